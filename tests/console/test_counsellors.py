"""The console's counsellor pages: add, edit, hours, days off, deactivate, as an admin uses them."""

from __future__ import annotations

import json

from sqlalchemy import select

from models import Booking, Counsellor
from tests.support.chat import never_says, offers, play, says, send, tap
from tests.support.console import (
    VIEWER_EMAIL,
    audit_rows,
    create_operator,
    db,
    post_form,
    signed_in_admin,
    signed_in_client,
)
from tests.support.scripts import AGREED, DETAILS, UP_TO_NAME

NEW = "/console/counsellors/new"
GOOD = {"name": "小林 さくら", "email": "Kobayashi.Sakura@desk.example.jp", "topics": ["キャリア・転職", "その他"],
        "weekly_0": "10:00-12:00, 13:00-18:30", "weekly_2": "１３：００〜１５：３０"}


def counsellors(app) -> list[Counsellor]:
    with db(app).transaction() as session:
        return list(session.scalars(select(Counsellor).order_by(Counsellor.id)))


def by_email(app, email: str) -> Counsellor:
    return next(c for c in counsellors(app) if c.email == email)




def text(response) -> str:
    return response.get_data(as_text=True)


def test_an_admin_adds_a_counsellor_with_topics_and_weekly_hours_and_the_list_shows_them(app):
    client = signed_in_admin(app)
    page = client.get(NEW)
    assert page.status_code == 200
    assert all(topic in text(page) for topic in ("キャリア・転職", "収入・家計", "職場の悩み・労働条件", "その他"))

    response = post_form(client, NEW, NEW, GOOD)
    assert response.status_code == 303 or response.status_code == 302
    [added] = counsellors(app)
    assert (added.name, added.email, added.active) == ("小林 さくら", "kobayashi.sakura@desk.example.jp", True)
    assert added.topics == ["キャリア・転職", "その他"]
    assert added.weekly == {"0": [["10:00", "12:00"], ["13:00", "18:30"]], "2": [["13:00", "15:30"]]}
    assert added.days_off == []
    assert response.location.endswith(f"/console/counsellors/{added.id}")

    listing = text(client.get("/console/counsellors"))
    assert "小林 さくら" in listing and "kobayashi.sakura@desk.example.jp" in listing
    assert "キャリア・転職、その他" in listing and "有効" in listing
    [entry] = audit_rows(app, "counsellor_created")
    assert entry.target == f"counsellor:{added.id}" and entry.operator_email == "admin@desk.example.jp"
    assert json.loads(entry.detail)["weekly"]["2"] == [["13:00", "15:30"]]


def test_every_field_that_does_not_fit_is_asked_again_kindly_and_nothing_is_saved(app):
    client = signed_in_admin(app)
    post_form(client, NEW, NEW, GOOD)
    cases = [
        ({"name": " "}, "お名前を入力してください"),
        ({"email": "sakura@"}, "メールアドレスの形をご確認ください"),
        ({"email": "KOBAYASHI.sakura@desk.example.jp"}, "すでに登録されています"),
        ({"topics": []}, "相談テーマを1つ以上選んでください"),
        ({"topics": ["占い"]}, "選べない相談テーマ"),
        ({"weekly_1": "10時から12時"}, "火曜日：「10時から12時」は時間帯として読めません"),
        ({"weekly_1": "25:00-26:00"}, "時刻をご確認ください"),
        ({"weekly_1": "10:15-12:00"}, "30分単位"),
        ({"weekly_1": "12:00-10:00"}, "終了が開始より後"),
        ({"weekly_1": "10:00-12:00, 11:30-13:00"}, "時間帯が重なっています"),
    ]
    for change, message in cases:
        response = post_form(client, NEW, NEW, {**GOOD, "email": "other@desk.example.jp", **change})
        assert response.status_code == 422, change
        assert message in text(response), change
        assert "まだ保存されていません" in text(response)
    assert len(counsellors(app)) == 1
    assert len(audit_rows(app, "counsellor_created")) == 1


def test_editing_hours_and_topics_saves_them_and_the_audit_says_what_changed(app):
    client = signed_in_admin(app)
    post_form(client, NEW, NEW, GOOD)
    sakura = by_email(app, "kobayashi.sakura@desk.example.jp")
    url = f"/console/counsellors/{sakura.id}"
    page = text(client.get(url))
    assert 'value="10:00-12:00, 13:00-18:30"' in page

    response = post_form(client, url, url, {**GOOD, "action": "save", "topics": ["収入・家計"],
                                            "weekly_0": "", "weekly_4": "15:00-18:30"})
    assert response.status_code in (302, 303)
    sakura = by_email(app, "kobayashi.sakura@desk.example.jp")
    assert sakura.topics == ["収入・家計"]
    assert sakura.weekly == {"2": [["13:00", "15:30"]], "4": [["15:00", "18:30"]]}
    [entry] = audit_rows(app, "counsellor_updated")
    changed = json.loads(entry.detail)
    assert entry.target == f"counsellor:{sakura.id}"
    assert set(changed) == {"topics", "weekly"}
    assert changed["topics"] == [["キャリア・転職", "その他"], ["収入・家計"]]

    refused = post_form(client, url, url, {**GOOD, "action": "save", "weekly_3": "9:00-9:45"})
    assert refused.status_code == 422 and "木曜日" in text(refused) and "30分単位" in text(refused)
    assert by_email(app, "kobayashi.sakura@desk.example.jp").weekly == sakura.weekly
    assert len(audit_rows(app, "counsellor_updated")) == 1


def test_a_day_off_removes_that_day_from_the_dates_a_line_user_is_offered_at_once(app, chat):
    client = signed_in_admin(app)
    career = [c for c in counsellors(app) if "キャリア・転職" in c.topics]
    assert len(career) == 2  # the demo desk: two counsellors take career consultations
    for counsellor in career:
        url = f"/console/counsellors/{counsellor.id}"
        response = post_form(client, url, url, {"action": "add_day_off", "day_off": "2026-12-02"})
        assert response.status_code in (302, 303)
    assert all(c.days_off == ["2026-12-02"] for c in counsellors(app) if "キャリア・転職" in c.topics)
    assert [e.target for e in audit_rows(app, "counsellor_day_off_added")] == [f"counsellor:{c.id}" for c in career]
    assert "2026-12-02" in text(client.get(f"/console/counsellors/{career[0].id}"))

    play(chat, AGREED + [
        (tap("相談を予約する"),),
        (tap("キャリア・転職"), says("年齢")),
        (send("25"), says("ご希望の日"), offers("12/3(木)"), never_says("12/2")),
        (tap("戻る"),),
    ])
    url = f"/console/counsellors/{career[0].id}"
    post_form(client, url, url, {"action": "remove_day_off", "day_off": "2026-12-02"})
    assert by_email(app, career[0].email).days_off == []
    assert len(audit_rows(app, "counsellor_day_off_removed")) == 1
    play(chat, [(send("25"), offers("12/2(水)"))])


def test_a_past_or_unreadable_day_off_is_asked_again(app):
    client = signed_in_admin(app)
    post_form(client, NEW, NEW, GOOD)
    url = f"/console/counsellors/{by_email(app, 'kobayashi.sakura@desk.example.jp').id}"
    for typed, message in (("2020-01-01", "過去の日付"), ("あした", "2026-12-24")):
        response = post_form(client, url, url, {"action": "add_day_off", "day_off": typed})
        assert response.status_code == 422 and message in text(response)
    assert by_email(app, "kobayashi.sakura@desk.example.jp").days_off == []


def test_deactivating_or_a_day_off_is_refused_while_confirmed_sessions_are_coming(app, chat):
    play(chat, UP_TO_NAME + DETAILS + [(tap("確定"), says("ご予約が確定しました"))])
    with db(app).transaction() as session:
        booking = session.scalar(select(Booking))
    client = signed_in_admin(app)
    url = f"/console/counsellors/{booking.counsellor_id}"

    refused = post_form(client, url, f"{url}/active", {"active": "0"})
    assert refused.status_code == 409
    assert "今後の確定済みの予約が1件あるため、無効にできません" in text(refused)
    assert f'href="/console/bookings?counsellor={booking.counsellor_id}"' in text(refused)
    day_off = post_form(client, url, url, {"action": "add_day_off", "day_off": "2026-12-02"})
    assert day_off.status_code == 409 and "確定済みの予約が1件" in text(day_off)
    with db(app).transaction() as session:
        counsellor = session.get(Counsellor, booking.counsellor_id)
    assert counsellor.active and counsellor.days_off == []
    assert audit_rows(app, "counsellor_deactivated") == [] and audit_rows(app, "counsellor_day_off_added") == []

    another_day = post_form(client, url, url, {"action": "add_day_off", "day_off": "2026-12-03"})
    assert another_day.status_code in (302, 303)


def test_a_deactivated_counsellor_takes_no_bookings_until_reactivated(app, chat):
    client = signed_in_admin(app)
    career = [c for c in counsellors(app) if "キャリア・転職" in c.topics]
    for counsellor in career:
        url = f"/console/counsellors/{counsellor.id}"
        assert post_form(client, url, f"{url}/active", {"active": "0"}).status_code in (302, 303)
    assert "無効" in text(client.get("/console/counsellors"))
    play(chat, AGREED + [(tap("相談を予約する"),),
                         (tap("キャリア・転職"), says("このテーマでご予約いただける日がありません"), never_says("12/2"))])

    url = f"/console/counsellors/{career[0].id}"
    post_form(client, url, f"{url}/active", {"active": "1"})
    play(chat, [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("25"), offers("12/2(水)"))])
    assert [e.target for e in audit_rows(app, "counsellor_deactivated")] == [f"counsellor:{c.id}" for c in career]
    assert [json.loads(e.detail) for e in audit_rows(app, "counsellor_activated")] == [{"active": [False, True]}]


def test_only_an_admin_opens_the_counsellor_pages(app):
    create_operator(app)
    create_operator(app, VIEWER_EMAIL, "viewer")
    viewer = signed_in_client(app, VIEWER_EMAIL)
    assert viewer.get("/console/counsellors").status_code == 403
    assert viewer.get(NEW).status_code == 403
    assert signed_in_client(app).get("/console/counsellors/999").status_code == 404


def test_an_address_taken_by_someone_else_a_moment_ago_is_refused_by_the_database_and_nothing_half_saved(app):
    """The form's own check can lose a race with another admin; the unique index still refuses."""
    from handlers import counsellors as counsellor_admin

    client = signed_in_admin(app)
    post_form(client, NEW, NEW, GOOD)
    post_form(client, NEW, NEW, {**GOOD, "name": "別の 相談員", "email": "other@desk.example.jp"})
    sakura = by_email(app, "kobayashi.sakura@desk.example.jp")
    checked = counsellor_admin.Checked("小林 さくら", "other@desk.example.jp", ["その他"], {})
    with db(app).transaction() as session:
        row = session.get(Counsellor, sakura.id)
        try:
            counsellor_admin.update(session, row, checked, range(5))
        except counsellor_admin.EmailTaken:
            refused = True
        else:
            refused = False
    assert refused
    after = by_email(app, "kobayashi.sakura@desk.example.jp")
    assert (after.topics, after.weekly) == (sakura.topics, sakura.weekly)

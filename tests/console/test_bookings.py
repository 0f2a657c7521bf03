"""The console's bookings: the list, the week calendar, a booking's detail and the actions on it
(cancel for the desk, retry a failed Teams handoff, attendance), and the maintenance setting, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from bot.demo import load_demo_data
from models import Booking, Counsellor, LocalMeeting, OperatorAlert
from tests.support.console import (
    AOKI,
    ISHII,
    at_desk,
    audit_rows,
    create_counsellor_operator,
    create_operator,
    csrf_token,
    db,
    insert_booking,
    post_form,
    signed_in_client,
    text_of,
    tokyo,
)
from tests.support.booking_actions import book_through_line, booking_row, follow, line_texts

# -- helpers shared with tests/test_console_dashboard.py ---------------------------------------


@pytest.fixture
def desk(app):
    """Demo counsellors, an admin, and the console's clock on Tuesday morning."""
    load_demo_data(db(app))
    create_operator(app)
    at_desk(app)
    return app


# -- role scope ----------------------------------------------------------------------------------

def test_a_counsellor_sees_only_their_own_bookings_and_cannot_cancel(desk):
    app = desk
    insert_booking(app, "AOKI0001", AOKI, tokyo(12, 2, 10))
    insert_booking(app, "ISHII001", ISHII, tokyo(12, 2, 10, 30))
    create_counsellor_operator(app, AOKI, "青木 里美")
    admin, aoki = signed_in_client(app), signed_in_client(app, AOKI)

    admin_list = text_of(admin.get("/console/bookings"))
    assert "AOKI0001" in admin_list and "ISHII001" in admin_list
    own_list = text_of(aoki.get("/console/bookings"))
    assert "AOKI0001" in own_list and "ISHII001" not in own_list
    own_week = text_of(aoki.get("/console/bookings/week"))
    assert "AOKI0001" in own_week and "ISHII001" not in own_week

    assert aoki.get("/console/bookings/AOKI0001").status_code == 200
    assert aoki.get("/console/bookings/ISHII001").status_code == 404
    assert post_form(aoki, "/console/bookings/AOKI0001", "/console/bookings/ISHII001/attendance",
                     {"outcome": "attended"}).status_code == 404
    assert post_form(aoki, "/console/bookings/AOKI0001", "/console/bookings/AOKI0001/attendance",
                     {"outcome": "maybe"}).status_code == 400
    refused = post_form(aoki, "/console/bookings/AOKI0001", "/console/bookings/AOKI0001/cancel",
                        {"reason": "都合により"})
    assert refused.status_code == 403
    assert post_form(aoki, "/console/bookings/AOKI0001", "/console/bookings/AOKI0001/retry-handoff").status_code == 403
    assert booking_row(app, "AOKI0001").status == "confirmed"
    assert "この予約をキャンセルする" not in text_of(aoki.get("/console/bookings/AOKI0001"))
    # Every page shown was audited (post_form opens the page first); the refused one shows nothing.
    assert {r.target for r in audit_rows(app, "view_booking")} == {"booking:AOKI0001"}
    assert audit_rows(app, "cancel_booking") == []


def test_a_viewer_sees_no_bookings_at_all(desk):
    app = desk
    insert_booking(app, "AOKI0001", AOKI, tokyo(12, 2, 10))
    create_operator(app, "viewer@desk.example.jp", "viewer")
    viewer = signed_in_client(app, "viewer@desk.example.jp")
    for path in ("/console/bookings", "/console/bookings/week", "/console/bookings/AOKI0001", "/console/settings"):
        response = viewer.get(path)
        assert response.status_code == 403 and "AOKI0001" not in text_of(response), path


# -- the list and the calendar -------------------------------------------------------------------

def test_the_list_starts_today_and_filters_by_status_counsellor_topic_and_dates(desk):
    app = desk
    insert_booking(app, "PAST0001", AOKI, tokyo(11, 30, 10))
    insert_booking(app, "AOKI0002", AOKI, tokyo(12, 2, 10))
    insert_booking(app, "ISHII002", ISHII, tokyo(12, 3, 13), topic="収入・家計")
    insert_booking(app, "CANC0001", ISHII, tokyo(12, 4, 11), status="cancelled")
    insert_booking(app, "HELD0001", AOKI, tokyo(12, 4, 15), status="held", name=None)
    admin = signed_in_client(app)

    def listed(query: str = "") -> set[str]:
        page = text_of(admin.get("/console/bookings" + query))
        return set(re.findall(r'data-reference="([A-Z0-9]+)"', page))

    assert listed() == {"AOKI0002", "ISHII002", "CANC0001"}  # from today, real bookings only
    assert listed("?status=held") == {"HELD0001"}
    assert listed("?status=cancelled") == {"CANC0001"}
    with db(app).transaction() as session:
        ishii = session.scalar(select(Counsellor.id).where(Counsellor.email == ISHII))
    assert listed(f"?counsellor={ishii}") == {"ISHII002", "CANC0001"}
    assert listed("?topic=収入・家計") == {"ISHII002"}
    assert listed("?from=2026-11-01&to=2026-12-02") == {"PAST0001", "AOKI0002"}
    assert listed("?from=") == {"PAST0001", "AOKI0002", "ISHII002", "CANC0001"}
    assert "日付は 2026-12-01 の形式" in text_of(admin.get("/console/bookings?from=yesterday"))
    assert "山田" not in text_of(admin.get("/console/bookings"))  # no personal data in the list


def test_the_list_is_paginated(desk):
    app = desk
    slots = [tokyo(12, day, hour, minute) for day in (2, 3, 4) for hour in range(13, 18) for minute in (0, 30)]
    for number, slot in enumerate(slots[:27]):
        insert_booking(app, f"AOKI{number:04d}", AOKI, slot)
        insert_booking(app, f"ISHI{number:04d}", ISHII, slot)
    admin = signed_in_client(app)
    first = text_of(admin.get("/console/bookings"))
    assert "54 件（1 / 2 ページ）" in first and len(re.findall(r'data-reference="', first)) == 50
    assert "次のページ" in first and "前のページ" not in first
    second = text_of(admin.get("/console/bookings?page=2"))
    assert len(re.findall(r'data-reference="', second)) == 4 and "前のページ" in second
    assert "AOKI0026" in second and "AOKI0026" not in first


def test_the_week_calendar_puts_each_booking_in_its_day_and_time_and_moves_by_week(desk):
    app = desk
    insert_booking(app, "AOKI0003", AOKI, tokyo(12, 2, 10))
    insert_booking(app, "ISHII003", ISHII, tokyo(12, 4, 17, 30), topic="その他")
    insert_booking(app, "NEXT0001", AOKI, tokyo(12, 9, 13))
    admin = signed_in_client(app)

    def cell(page: str, day: str, time: str) -> str:
        match = re.search(rf'<td data-date="{day}" data-time="{time}"[^>]*>(.*?)</td>', page, re.DOTALL)
        assert match, (day, time)
        return match.group(1)

    week = text_of(admin.get("/console/bookings/week"))  # the clock's week: Monday 30 November
    assert "11月30日(月)" in week and "12月4日(金)" in week and "12月5日" not in week
    assert "10:00" in week and "18:00" in week and "12:00</th>" not in week  # rows from the desk's windows
    wednesday = cell(week, "2026-12-02", "10:00")
    assert "AOKI0003" in wednesday and "キャリア・転職" in wednesday and "青木 里美" in wednesday
    assert "予約確定" in wednesday and 'href="/console/bookings/AOKI0003"' in wednesday
    friday = cell(week, "2026-12-04", "17:30")
    assert "ISHII003" in friday and "石井 健太" in friday and "その他" in friday
    assert "AOKI0003" not in cell(week, "2026-12-02", "10:30") and "NEXT0001" not in week

    following = text_of(admin.get("/console/bookings/week?week=2026-12-10"))
    assert "12月7日(月)" in following and "NEXT0001" in cell(following, "2026-12-09", "13:00")
    assert "AOKI0003" not in following


# -- a booking's detail ----------------------------------------------------------------------------

def test_the_detail_shows_the_users_details_and_teams_and_is_audited(app, chat, worker):
    create_operator(app)
    at_desk(app)
    booking = book_through_line(chat, worker)
    admin = signed_in_client(app)
    page = text_of(admin.get(f"/console/bookings/{booking.reference}"))
    for shown in ("12月2日(水) 10:00〜10:30", "キャリア・転職", "山田 太郎", "ヤマダ タロウ", "25歳", "Taro@example.jp",
                  "09012345678", "転職を考えています。", "予約確定", "作成済み",
                  "Teams は未設定です（ローカルの会議で代用しています）", booking.join_url,
                  f'href="/console/conversations/{booking.user_id}"'):
        assert shown in page, shown
    [viewed] = audit_rows(app, "view_booking")
    assert viewed.target == f"booking:{booking.reference}" and viewed.operator_email == "admin@desk.example.jp"
    assert admin.get("/console/bookings/NOSUCH00").status_code == 404


def test_user_text_is_shown_as_text_never_as_markup(desk):
    app = desk
    insert_booking(app, "XSS00001", AOKI, tokyo(12, 2, 10), name="<script>alert(1)</script>")
    page = text_of(signed_in_client(app).get("/console/bookings/XSS00001"))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# -- cancel ---------------------------------------------------------------------------------------

def test_cancelling_with_a_reason_withdraws_the_meeting_and_tells_the_user_on_line(app, chat, worker, fake_line):
    create_operator(app)
    at_desk(app)
    booking = book_through_line(chat, worker)
    admin = signed_in_client(app)
    detail = f"/console/bookings/{booking.reference}"
    page = follow(admin, post_form(admin, detail, f"{detail}/cancel", {"reason": "相談員の急病のため", "asked_by": "desk"}))
    assert "予約をキャンセルしました" in page and "キャンセル" in page and "相談員の急病のため" in page
    assert "この予約をキャンセルする" not in page

    worker.run_until_idle()
    cancelled = booking_row(app, booking.reference)
    assert (cancelled.status, cancelled.cancelled_by, cancelled.cancel_reason) == (
        "cancelled", "operator", "相談員の急病のため")
    assert cancelled.teams_status == "cancelled"
    with db(app).transaction() as session:
        meeting = session.scalar(select(LocalMeeting))
        assert meeting.cancelled_at is not None and "窓口の都合" in meeting.cancel_comment
    assert any("窓口の都合によりキャンセル" in t for t in line_texts(fake_line, chat.user_id))
    [entry] = audit_rows(app, "cancel_booking")
    assert entry.target == f"booking:{booking.reference}"
    assert json.loads(entry.detail) == {"reason": "相談員の急病のため", "cancelled_by": "operator"}

    again = follow(admin, post_form(admin, detail, f"{detail}/cancel", {"reason": "二度目", "asked_by": "desk"}))
    assert "確定済みではないため、キャンセルできません" in again
    assert len(audit_rows(app, "cancel_booking")) == 1


def test_cancelling_without_a_reason_is_refused_with_a_message(app, chat, worker, fake_line):
    create_operator(app)
    at_desk(app)
    booking = book_through_line(chat, worker)
    admin = signed_in_client(app)
    detail = f"/console/bookings/{booking.reference}"
    page = follow(admin, post_form(admin, detail, f"{detail}/cancel", {"reason": "   ", "asked_by": "desk"}))
    assert "キャンセルの理由を入力してください。" in page
    worker.run_until_idle()
    assert booking_row(app, booking.reference).status == "confirmed"
    assert not any("キャンセルとなりました" in t or "キャンセルしました" in t for t in line_texts(fake_line, chat.user_id))
    assert audit_rows(app, "cancel_booking") == []


def test_the_cancel_command_does_what_the_console_does(app, chat, worker):
    booking = book_through_line(chat, worker)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["cancel-booking", booking.reference, "--reason", " "]).exit_code != 0
    result = runner.invoke(args=["cancel-booking", booking.reference, "--reason", "窓口の都合"])
    assert result.exit_code == 0, result.output
    assert booking_row(app, booking.reference).cancel_reason == "窓口の都合"


# -- retry a failed handoff -----------------------------------------------------------------------

def fail_handoff(app, reference: str) -> None:
    """The state handlers/handoff.py leaves when Graph refused for good: failed, with an alert."""
    with db(app).transaction() as session:
        booking = session.scalar(select(Booking).where(Booking.reference == reference))
        booking.teams_status, booking.handoff_error = "failed", "Graph refused the event (400): invalid attendee"
        booking.graph_event_id = booking.join_url = booking.join_link_sent_at = None
        booking.handoff_generation += 1
        session.add(OperatorAlert(kind="handoff_failed", booking_id=booking.id,
                                  message=f"Teams handoff failed for booking {reference}"))


def test_an_admin_retries_a_failed_handoff_and_the_user_gets_the_link(app, chat, worker, fake_line):
    create_operator(app)
    at_desk(app)
    booking = book_through_line(chat, worker)
    fail_handoff(app, booking.reference)
    admin = signed_in_client(app)
    detail = f"/console/bookings/{booking.reference}"
    page = text_of(admin.get(detail))
    assert "handoff failed" in page and "invalid attendee" in page and "失敗" in page
    assert "Teams 連携を再実行する" in page
    links_before = sum("参加用リンク" in t for t in line_texts(fake_line, chat.user_id))

    page = follow(admin, post_form(admin, detail, f"{detail}/retry-handoff"))
    assert "Teams 連携をもう一度実行します" in page and "作成待ち" in page
    with db(app).transaction() as session:
        assert session.scalar(select(func.count()).select_from(OperatorAlert)
                              .where(OperatorAlert.resolved_at.is_(None))) == 0
    worker.run_until_idle()
    retried = booking_row(app, booking.reference)
    assert retried.teams_status == "created" and retried.join_url and retried.handoff_error is None
    assert sum("参加用リンク" in t for t in line_texts(fake_line, chat.user_id)) == links_before + 1
    assert [r.target for r in audit_rows(app, "retry_handoff")] == [f"booking:{booking.reference}"]

    refused = follow(admin, post_form(admin, detail, f"{detail}/retry-handoff"))
    assert "失敗していないため、再実行できません" in refused
    assert len(audit_rows(app, "retry_handoff")) == 1


# -- attendance -----------------------------------------------------------------------------------

def test_attendance_follows_the_rules_and_the_bookings_counsellor_may_mark_it(app, chat, worker, fake_line):
    create_operator(app)
    at_desk(app)
    booking = book_through_line(chat, worker)
    with db(app).transaction() as session:
        email = session.get(Counsellor, booking.counsellor_id).email
    create_counsellor_operator(app, email)
    detail = f"/console/bookings/{booking.reference}"

    def mark(outcome: str) -> str:
        counsellor = signed_in_client(app, email)
        return follow(counsellor, post_form(counsellor, detail, f"{detail}/attendance", {"outcome": outcome}))

    assert "「参加」は相談の開始時刻を過ぎてから記録できます。" in mark("attended")
    at_desk(app, tokyo(12, 2, 10, 5))  # the next day: the console signed the counsellor out overnight
    assert "「不参加」は相談の開始から10分を過ぎてから記録できます。" in mark("no_show")
    assert booking_row(app, booking.reference).status == "confirmed"
    assert audit_rows(app, "mark_attendance") == []

    page = mark("attended")
    assert "「参加」を記録しました。" in page and "参加済み" in page
    at_desk(app, tokyo(12, 2, 10, 15))
    assert "「不参加」を記録しました。" in mark("no_show")
    worker.run_until_idle()
    marked = booking_row(app, booking.reference)
    assert marked.status == "no_show" and marked.teams_status == "cancelled"  # the meeting is withdrawn
    assert [json.loads(r.detail)["outcome"] for r in audit_rows(app, "mark_attendance")] == ["attended", "no_show"]

    admin = signed_in_client(app)
    assert "「参加」を記録しました。" in follow(admin, post_form(admin, detail, f"{detail}/attendance",
                                                          {"outcome": "attended"}))


# -- maintenance ----------------------------------------------------------------------------------

def test_maintenance_on_and_off_changes_what_a_line_user_gets(app, chat):
    create_operator(app)
    admin = signed_in_client(app)
    settings = text_of(admin.get("/console/settings"))
    assert "通常運転" in settings and "メンテナンスを開始する" in settings

    page = follow(admin, post_form(admin, "/console/settings", "/console/settings/maintenance",
                                   {"state": "on", "notice": "システム点検のため停止しています。", "until": "12月1日 15:00"}))
    assert "メンテナンス中" in page and "システム点検のため停止しています。" in page and "再開予定：12月1日 15:00" in page
    answer = chat.follow()
    assert "システム点検のため停止しています。" in answer.text and "12月1日 15:00" in answer.text
    assert "友だち追加ありがとうございます" not in answer.text
    assert "メンテナンス中" in text_of(admin.get("/console/"))

    page = follow(admin, post_form(admin, "/console/settings", "/console/settings/maintenance", {"state": "off"}))
    assert "メンテナンスを終了しました" in page and "通常運転" in page
    assert "友だち追加ありがとうございます" in chat.follow().text
    on, off = audit_rows(app, "maintenance_on"), audit_rows(app, "maintenance_off")
    assert [r.target for r in on + off] == ["setting:maintenance"] * 2
    assert json.loads(on[0].detail) == {"notice": "システム点検のため停止しています。", "until": "12月1日 15:00"}

    refused = follow(admin, post_form(admin, "/console/settings", "/console/settings/maintenance",
                                      {"state": "on", "notice": " "}))
    assert "お知らせを入力してください" in refused and "通常運転" in refused
    assert len(audit_rows(app, "maintenance_on")) == 1


def test_settings_are_for_admins_only(desk):
    app = desk
    create_counsellor_operator(app, AOKI)
    aoki = signed_in_client(app, AOKI)
    assert aoki.get("/console/settings").status_code == 403
    token = csrf_token(aoki.get("/console/"))
    assert aoki.post("/console/settings/maintenance", data={"state": "on", "notice": "x",
                                                            "csrf_token": token}).status_code == 403


# -- CSRF -----------------------------------------------------------------------------------------

def test_every_action_needs_a_csrf_token(desk):
    app = desk
    insert_booking(app, "AOKI0004", AOKI, tokyo(12, 2, 10), teams_status="failed")
    with db(app).transaction() as session:
        alert = OperatorAlert(kind="handoff_failed", message="Teams handoff failed")
        session.add(alert)
        session.flush()
        alert_id = alert.id
    at_desk(app, tokyo(12, 2, 10, 30))
    admin = signed_in_client(app)
    posts = {"/console/bookings/AOKI0004/cancel": {"reason": "理由"},
             "/console/bookings/AOKI0004/retry-handoff": {},
             "/console/bookings/AOKI0004/attendance": {"outcome": "attended"},
             f"/console/alerts/{alert_id}/resolve": {},
             "/console/settings/maintenance": {"state": "on", "notice": "点検中"}}
    for path, data in posts.items():
        assert admin.post(path, data=data).status_code == 400, path
        assert admin.post(path, data={**data, "csrf_token": "forged"}).status_code == 400, path
    unchanged = booking_row(app, "AOKI0004")
    assert (unchanged.status, unchanged.teams_status) == ("confirmed", "failed")
    assert "通常運転" in text_of(admin.get("/console/settings"))
    assert "Teams handoff failed" in text_of(admin.get("/console/"))
    assert not any(r.action in ("cancel_booking", "retry_handoff", "mark_attendance", "resolve_alert",
                                "maintenance_on") for r in audit_rows(app))

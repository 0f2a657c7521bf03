"""The console's users pages: list and detail, restricting and lifting (the user is told on LINE),
and erasing a user's personal data through a confirmation step. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot.simulator import events as line_events
from models import (
    Booking,
    ConversationState,
    LineUser,
    MessageLog,
    OutboundMessage,
    PolicyConsent,
    WebhookEvent,
)
from tests.support.chat import play, says, tap
from tests.support.console import (
    PASSWORD,
    VIEWER_EMAIL,
    audit_rows,
    create_counsellor_operator,
    create_operator,
    db,
    post_form,
    signed_in_client,
)
from tests.support.scripts import DETAILS, UP_TO_NAME

BOOKED = UP_TO_NAME + DETAILS + [(tap("確定"), says("ご予約が確定しました"))]
PERSON = "U" + "a" * 32  # the chat fixture's user
TOLD_RESTRICTED = "LINEからのご予約を一時お受けできなくなりました"
TOLD_LIFTED = "LINEからのご予約を、再びお受けできるようになりました"
SECRETS = ("山田 太郎", "ヤマダ タロウ", "Taro@example.jp", "09012345678", "転職を考えています")


def user_id(app, line_user_id: str = PERSON) -> int:
    with db(app).transaction() as session:
        return session.scalar(select(LineUser.id).where(LineUser.line_user_id == line_user_id))


def received(fake_line, who: str = PERSON) -> str:
    return "\n".join(d.message.get("text") or d.message.get("altText") or "" for d in fake_line.store.messages_to(who))


def say(line, worker, who: str, *texts: str) -> None:
    for said in texts:
        line.post(line.text(who, said))
    worker.run_until_idle()




@pytest.fixture
def booked(chat, line, worker):
    """A user who agreed, booked (with 青木 里美) and then wrote a few messages on LINE."""
    play(chat, BOOKED)
    say(line, worker, PERSON, "当日はよろしくお願いします", "<b>質問X9</b>です")
    return chat


def cancel(app, reference: str) -> None:
    result = app.test_cli_runner().invoke(args=["cancel-booking", reference, "--reason", "窓口の都合"])
    assert result.exit_code == 0, result.output


def test_the_list_and_detail_show_status_bookings_and_consent(app, admin, booked):
    uid = user_id(app)
    listed = admin.get("/console/users").get_data(as_text=True)
    assert "山田 太郎" in listed and "2026-04-01 に同意" in listed
    assert f'<tr data-user-id="{uid}">' in listed
    detail = admin.get(f"/console/users/{uid}").get_data(as_text=True)
    assert "1件" in detail and "確定" in detail and "2026-04-01 に同意" in detail
    assert "予約を制限する" in detail and "消去の確認へ進む" in detail
    assert [e.target for e in audit_rows(app, "view_user")] == [f"line_user:{uid}"]
    assert audit_rows(app, "view_users")


def test_the_list_filters_by_status(app, admin, booked, line, worker):
    say(line, worker, "U" + "b" * 32, "こんにちは")
    with db(app).transaction() as session:
        session.get(LineUser, user_id(app)).restricted_at = db(app).clock()
    restricted = admin.get("/console/users?status=restricted").get_data(as_text=True)
    assert "山田 太郎" in restricted and "1人" in restricted
    assert "山田 太郎" not in admin.get("/console/users?status=erased").get_data(as_text=True)
    assert "2人" in admin.get("/console/users").get_data(as_text=True)


def test_only_an_admin_opens_the_users_pages(app, booked):
    uid = user_id(app)
    create_operator(app, VIEWER_EMAIL, "viewer", PASSWORD, "統計 閲覧")
    create_counsellor_operator(app, "aoki.satomi@desk.example.jp", "青木 里美")
    for email in (VIEWER_EMAIL, "aoki.satomi@desk.example.jp"):
        client = signed_in_client(app, email)
        for path in ("/console/users", f"/console/users/{uid}", f"/console/users/{uid}/erase"):
            response = client.get(path)
            assert response.status_code == 403 and "山田" not in response.get_data(as_text=True)


def test_a_restriction_needs_a_reason_and_tells_the_user_on_line(app, admin, booked, worker, fake_line, chat):
    uid = user_id(app)
    page = f"/console/users/{uid}"
    response = post_form(admin, page, f"{page}/restrict", {"reason": "   "})
    assert response.status_code == 303
    assert "理由を入力してください" in admin.get(response.location).get_data(as_text=True)
    with db(app).transaction() as session:
        assert session.get(LineUser, uid).restricted_at is None

    response = post_form(admin, page, f"{page}/restrict", {"reason": "窓口への不適切な発言が続いたため"})
    assert response.status_code == 303
    worker.run_until_idle()
    assert TOLD_RESTRICTED in received(fake_line)
    assert "不適切" not in received(fake_line)  # the internal reason is not quoted to the user
    with db(app).transaction() as session:
        user = session.get(LineUser, uid)
        assert user.restricted_at is not None and user.restriction_reason == "窓口への不適切な発言が続いたため"
    [entry] = audit_rows(app, "restrict_user")
    assert entry.target == f"line_user:{uid}" and "不適切" in entry.detail
    detail = admin.get(page).get_data(as_text=True)
    assert "予約制限中" in detail and "制限を解除する" in detail

    # The conversation now refuses a new booking.
    assert "予約をお受けできません" in chat.tap("相談を予約する", chat.send("メニュー")).text


def _reference(app) -> str:
    with db(app).transaction() as session:
        return session.scalar(select(Booking.reference))


def test_lifting_a_restriction_needs_a_reason_and_tells_the_user(app, admin, booked, worker, fake_line):
    uid = user_id(app)
    page = f"/console/users/{uid}"
    post_form(admin, page, f"{page}/restrict", {"reason": "確認のため"})
    response = post_form(admin, page, f"{page}/lift", {"reason": ""})
    assert "理由を入力してください" in admin.get(response.location).get_data(as_text=True)
    with db(app).transaction() as session:
        assert session.get(LineUser, uid).restricted_at is not None

    post_form(admin, page, f"{page}/lift", {"reason": "ご本人と電話で確認できたため"})
    worker.run_until_idle()
    assert TOLD_RESTRICTED in received(fake_line) and TOLD_LIFTED in received(fake_line)
    with db(app).transaction() as session:
        user = session.get(LineUser, uid)
        assert user.restricted_at is None and user.restriction_reason is None
    [entry] = audit_rows(app, "lift_restriction")
    assert json.loads(entry.detail) == {"reason": "ご本人と電話で確認できたため"}
    # Lifting again is refused plainly.
    response = post_form(admin, page, f"{page}/lift", {"reason": "もう一度"})
    assert "制限されていません" in admin.get(response.location).get_data(as_text=True)


def test_a_blocked_user_is_restricted_without_a_message(app, admin, line, worker, fake_line):
    who = "U" + "c" * 32
    say(line, worker, who, "こんにちは")
    line.post(line_events.unfollow(who))
    worker.run_until_idle()
    before = received(fake_line, who)
    uid = user_id(app, who)
    post_form(admin, f"/console/users/{uid}", f"/console/users/{uid}/restrict", {"reason": "確認のため"})
    worker.run_until_idle()
    assert received(fake_line, who) == before
    with db(app).transaction() as session:
        assert session.get(LineUser, uid).restricted_at is not None


def test_changes_need_the_csrf_token(app, admin, booked):
    uid = user_id(app)
    for path, data in ((f"/console/users/{uid}/restrict", {"reason": "x"}), (f"/console/users/{uid}/lift", {"reason": "x"}),
                       (f"/console/users/{uid}/erase", {"confirm_id": str(uid)})):
        assert admin.post(path, data=data).status_code == 400
    cancel(app, _reference(app))
    assert admin.post(f"/console/users/{uid}/erase", data={"confirm_id": str(uid)}).status_code == 400
    with db(app).transaction() as session:
        user = session.get(LineUser, uid)
        assert user.restricted_at is None and user.erased_at is None
        assert session.scalar(select(Booking.name)) == "山田 太郎"


def test_erasure_is_refused_while_an_upcoming_booking_remains(app, admin, booked):
    uid = user_id(app)
    page = admin.get(f"/console/users/{uid}/erase").get_data(as_text=True)
    assert "今後の予約があるため消去できません" in page and _reference(app) in page
    assert 'id="erase-form"' not in page
    response = post_form(admin, f"/console/users/{uid}", f"/console/users/{uid}/erase", {"confirm_id": str(uid)})
    assert response.status_code == 303
    assert "先に予約をキャンセルしてください" in admin.get(response.location).get_data(as_text=True)
    with db(app).transaction() as session:
        assert session.get(LineUser, uid).erased_at is None
        assert session.scalar(select(Booking.name)) == "山田 太郎"
    assert audit_rows(app, "erase_user") == []


def counts(app, uid: int) -> dict[str, int]:
    with db(app).transaction() as session:
        return {
            "messages": session.scalar(select(func.count()).select_from(MessageLog).where(MessageLog.user_id == uid)),
            "in": session.scalar(select(func.count()).select_from(MessageLog)
                                 .where(MessageLog.user_id == uid, MessageLog.direction == "in")),
            "bookings": session.scalar(select(func.count()).select_from(Booking).where(Booking.user_id == uid)),
            "consents": session.scalar(select(func.count()).select_from(PolicyConsent).where(PolicyConsent.user_id == uid)),
        }


def test_erasing_a_user_removes_their_personal_data_everywhere_and_keeps_the_counts(
        app, admin, booked, chat, worker):
    uid = user_id(app)
    cancel(app, _reference(app))
    worker.run_until_idle()
    chat.tap("相談を予約する", chat.send("メニュー"))
    chat.tap("キャリア・転職")  # an answer in progress
    kept = counts(app, uid)
    with db(app).transaction() as session:
        steps_before = [(m.direction, m.kind, m.flow, m.step, m.created_at) for m in
                        session.scalars(select(MessageLog).where(MessageLog.user_id == uid).order_by(MessageLog.id))]

    page = admin.get(f"/console/users/{uid}/erase").get_data(as_text=True)
    assert "会話の本文" in page and 'id="erase-form"' in page
    wrong = post_form(admin, f"/console/users/{uid}/erase", f"/console/users/{uid}/erase", {"confirm_id": "12345"})
    assert "利用者番号を正しく入力してください" in admin.get(wrong.location).get_data(as_text=True)
    with db(app).transaction() as session:
        assert session.get(LineUser, uid).erased_at is None

    response = post_form(admin, f"/console/users/{uid}/erase", f"/console/users/{uid}/erase", {"confirm_id": str(uid)})
    assert response.status_code == 303
    assert "個人情報を消去しました" in admin.get(response.location).get_data(as_text=True)

    with db(app).transaction() as session:
        user = session.get(LineUser, uid)
        assert user.erased_at is not None
        [booking] = session.scalars(select(Booking).where(Booking.user_id == uid))
        assert (booking.name, booking.furigana, booking.email, booking.phone, booking.consultation) == (None,) * 5
        assert (booking.topic, booking.status, booking.age) == ("キャリア・転職", "cancelled", 25)
        logged = list(session.scalars(select(MessageLog).where(MessageLog.user_id == uid).order_by(MessageLog.id)))
        assert all(m.text is None and m.payload == {} for m in logged)
        assert [(m.direction, m.kind, m.flow, m.step, m.created_at) for m in logged] == steps_before
        events = list(session.scalars(select(WebhookEvent).where(WebhookEvent.source_key == PERSON)))
        assert events and all(e.body == {} for e in events)
        outbound = list(session.scalars(select(OutboundMessage).where(OutboundMessage.user_id == uid)))
        assert outbound and all(o.messages == [] for o in outbound if o.status != "pending")
        state = session.get(ConversationState, uid)
        assert state.answers == {} and state.flow is None
    assert counts(app, uid) == kept

    [entry] = audit_rows(app, "erase_user")
    assert entry.target == f"line_user:{uid}"
    detail = json.loads(entry.detail)
    assert set(detail) == {"bookings", "messages", "webhook_events", "outbound_messages", "conversation_state",
                           "meetings"}
    assert detail["bookings"] == 1 and detail["messages"] > 0 and detail["conversation_state"] == 1
    assert all(isinstance(n, int) for n in detail.values())

    # Nothing personal is left on any page about them.
    for path in (f"/console/users/{uid}", f"/console/conversations/{uid}", "/console/users", "/console/conversations",
                 f"/console/conversations/{uid}/messages?after=0"):
        body = admin.get(path).get_data(as_text=True)
        for secret in SECRETS + ("当日はよろしくお願いします", "質問X9"):
            assert secret not in body, (path, secret)
    body = admin.get(f"/console/users/{uid}").get_data(as_text=True)
    assert f"LINE利用者 #{uid}" in body and "消去済み" in body
    assert "（消去済み）" in admin.get(f"/console/conversations/{uid}").get_data(as_text=True)

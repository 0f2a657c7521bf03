"""The console's conversations: the list with search and filters, one user's timeline as a chat,
its live poll, the role scope, and marking a crisis flag handled. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from bot.console.formatting import moment_label
from bot.demo import load_demo_data
from models import Booking, ConversationState, LineUser, MessageLog
from tests.support.chat import TUESDAY_MORNING, Chat, play, says, send, tap
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
from tests.support.scripts import AGREED, DETAILS, TO_DATES, UP_TO_NAME

TOKYO = ZoneInfo("Asia/Tokyo")
BOOKED = UP_TO_NAME + DETAILS + [(tap("確定"), says("ご予約が確定しました"))]
TALKER = "U" + "b" * 32
SCRIPT = "<script>alert(1)</script>"
IMAGE = '<img src=x onerror="alert(2)">'


def user_id(app, line_user_id: str) -> int:
    with db(app).transaction() as session:
        return session.scalar(select(LineUser.id).where(LineUser.line_user_id == line_user_id))


def say(line, worker, who: str, *texts: str) -> None:
    """The user types these into LINE; the real webhook and worker take them through the engine."""
    for said in texts:
        line.post(line.text(who, said))
    worker.run_until_idle()


def rows_of(page) -> list[str]:
    """The names in the conversations list, top to bottom."""
    return re.findall(r'<tr data-user-id="\d+">\s*<td><a href="[^"]+">([^<]+)</a>', page.get_data(as_text=True))




def test_an_admin_sees_every_user_with_name_last_activity_step_and_badges(app, admin, chat, line, worker):
    play(chat, BOOKED)
    say(line, worker, TALKER, "こんにちは", "予約したい")
    talker = user_id(app, TALKER)
    with db(app).transaction() as session:
        session.get(LineUser, talker).restricted_at = db(app).clock()

    page = admin.get("/console/conversations")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert set(rows_of(page)) == {"山田 太郎", f"LINE利用者 #{talker}"}
    assert "同意 › 同意の確認" in body  # the talker was asked to agree to the policy first
    assert "予約制限中" in body
    with db(app).transaction() as session:
        last = session.scalar(select(MessageLog).where(MessageLog.user_id == talker).order_by(MessageLog.id.desc()))
    assert moment_label(last.created_at) in body


def test_a_typed_script_tag_is_shown_as_text_on_the_timeline(app, admin, line, worker):
    say(line, worker, TALKER, SCRIPT, IMAGE)
    page = admin.get(f"/console/conversations/{user_id(app, TALKER)}")
    body = page.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=" in body
    assert "<script>alert" not in body and "<img src=x" not in body
    # Every script the page runs is a file of ours: the policy forbids inline ones anyway.
    assert re.findall(r"<script[^>]*>", body) == ['<script src="/static/console-chat.js" defer>']
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_the_timeline_is_a_chat_with_tokyo_times_and_the_flow_and_step(app, admin, line, worker):
    say(line, worker, TALKER, "相談を予約する", "同意する")
    uid = user_id(app, TALKER)
    body = admin.get(f"/console/conversations/{uid}").get_data(as_text=True)
    with db(app).transaction() as session:
        rows = list(session.scalars(select(MessageLog).where(MessageLog.user_id == uid).order_by(MessageLog.id)))
    assert {r.direction for r in rows} == {"in", "out"}
    assert body.count('<div class="in" data-id=') == sum(r.direction == "in" for r in rows)
    assert body.count('<div class="out" data-id=') == sum(r.direction == "out" for r in rows)
    assert '<div class="bubble">相談を予約する</div>' in body
    assert "予約 › テーマ" in body  # the question about the topic, sent in the booking flow
    for row in rows:
        assert moment_label(row.created_at) in body
    assert "2026-04-01" in body and "同意" in body  # consent history


def test_viewing_a_conversation_is_audited_and_its_live_refresh_is_not(app, admin, line, worker):
    say(line, worker, TALKER, "こんにちは")
    uid = user_id(app, TALKER)
    admin.get(f"/console/conversations/{uid}")
    [entry] = audit_rows(app, "view_conversation")
    assert entry.target == f"line_user:{uid}" and entry.operator_email == "admin@desk.example.jp"
    before = len(audit_rows(app))
    with db(app).transaction() as session:
        shown = session.scalar(select(func.max(MessageLog.id)).where(MessageLog.user_id == uid))
    admin.get(f"/console/conversations/{uid}/messages?after={shown}")
    admin.get(f"/console/conversations/{uid}/messages?after={shown}")
    assert len(audit_rows(app)) == before


def test_the_live_poll_returns_only_messages_after_the_last_one_shown(app, admin, line, worker):
    say(line, worker, TALKER, "こんにちは")
    uid = user_id(app, TALKER)
    page = admin.get(f"/console/conversations/{uid}").get_data(as_text=True)
    last_id = int(re.search(r'data-last-id="(\d+)"', page).group(1))
    assert admin.get(f"/console/conversations/{uid}/messages?after={last_id}").get_json()["messages"] == []

    say(line, worker, TALKER, SCRIPT)
    poll = admin.get(f"/console/conversations/{uid}/messages?after={last_id}")
    assert poll.status_code == 200 and poll.mimetype == "application/json"
    data = poll.get_json()
    said, *answers = data["messages"]
    assert (said["direction"], said["text"]) == ("in", SCRIPT)
    assert answers and {m["direction"] for m in answers} == {"out"}
    assert data["last_id"] == data["messages"][-1]["id"] > last_id
    assert all(m["id"] > last_id for m in data["messages"])


def test_a_counsellor_sees_only_their_booked_users_and_a_viewer_sees_none(app, chat, line, worker):
    play(chat, BOOKED)  # booked with 青木 里美
    say(line, worker, TALKER, "別の人の相談です")
    own, other = user_id(app, chat.user_id), user_id(app, TALKER)
    create_counsellor_operator(app, "aoki.satomi@desk.example.jp", "青木 里美")
    counsellor = signed_in_client(app, "aoki.satomi@desk.example.jp")

    assert rows_of(counsellor.get("/console/conversations")) == ["山田 太郎"]
    assert counsellor.get(f"/console/conversations/{own}").status_code == 200
    assert counsellor.get(f"/console/conversations/{own}/messages?after=0").status_code == 200
    for path in (f"/console/conversations/{other}", f"/console/conversations/{other}/messages?after=0"):
        response = counsellor.get(path)
        assert response.status_code in (403, 404)
        assert "別の人の相談です" not in response.get_data(as_text=True)
    assert "別の人の相談です" not in search(counsellor, "別の人").get_data(as_text=True)

    create_operator(app, VIEWER_EMAIL, "viewer", PASSWORD, "統計 閲覧")
    viewer = signed_in_client(app, VIEWER_EMAIL)
    for path in ("/console/conversations", f"/console/conversations/{own}",
                 f"/console/conversations/{own}/messages?after=0"):
        assert viewer.get(path).status_code == 403


def test_a_counsellor_sees_a_user_only_once_a_booking_with_them_is_confirmed(app, chat):
    play(chat, UP_TO_NAME)  # a hold with 青木 里美, not a booking yet
    create_counsellor_operator(app, "aoki.satomi@desk.example.jp", "青木 里美")
    counsellor = signed_in_client(app, "aoki.satomi@desk.example.jp")
    assert counsellor.get(f"/console/conversations/{user_id(app, chat.user_id)}").status_code == 404


def test_search_finds_users_by_what_they_said_and_by_date(app, admin):
    with db(app).transaction() as session:
        people = [LineUser(line_user_id=f"U{n}" + "0" * 32) for n in range(3)]
        session.add_all(people)
        session.flush()
        for person, said, day in zip(people, ("残業代が出ません", "転職の相談_100%", "家賃の相談"),
                                     (datetime(2026, 11, 2, 9, tzinfo=TOKYO), datetime(2026, 11, 10, 23, 30, tzinfo=TOKYO),
                                      datetime(2026, 11, 11, 0, 30, tzinfo=TOKYO))):
            session.add(MessageLog(user_id=person.id, direction="in", kind="text", text=said,
                                   payload={"text": said}, created_at=day))
        ids = [p.id for p in people]
    names = [f"LINE利用者 #{i}" for i in ids]

    assert rows_of(search(admin, "残業")) == [names[0]]
    assert rows_of(search(admin, "相談")) == [names[2], names[1]]
    assert rows_of(search(admin, "_100%")) == [names[1]]  # no wildcards
    assert rows_of(search(admin, "%")) == [names[1]]
    assert rows_of(search(admin, "", **{"from": "2026-11-10", "to": "2026-11-10"})) == [names[1]]
    assert rows_of(search(admin, "", **{"from": "2026-11-11"})) == [names[2]]
    assert rows_of(search(admin, "", to="2026-11-09")) == [names[0]]
    assert rows_of(search(admin, "相談", **{"from": "2026-11-11"})) == [names[2]]
    assert "条件に合う会話はありません" in search(admin, "存在しない").get_data(as_text=True)
    [entry] = [e for e in audit_rows(app, "view_conversations") if '"search": true' in (e.detail or "")][:1]
    assert "残業" not in entry.detail  # what was searched for can itself be personal data


def test_the_flagged_filter_and_marking_a_flag_handled(app, admin, line, worker):
    say(line, worker, TALKER, "もう死にたい")
    say(line, worker, "U" + "c" * 32, "こんにちは")
    uid = user_id(app, TALKER)
    assert rows_of(admin.get("/console/conversations?flagged=1")) == [f"LINE利用者 #{uid}"]
    page = admin.get(f"/console/conversations/{uid}").get_data(as_text=True)
    assert "要注意" in page and "対応済みにする" in page

    response = admin.post(f"/console/conversations/{uid}/flag-handled")  # no CSRF token
    assert response.status_code == 400
    assert rows_of(admin.get("/console/conversations?flagged=1")) == [f"LINE利用者 #{uid}"]

    response = post_form(admin, f"/console/conversations/{uid}", f"/console/conversations/{uid}/flag-handled")
    assert response.status_code == 303
    assert "対応済みにしました" in admin.get(response.location).get_data(as_text=True)
    assert rows_of(admin.get("/console/conversations?flagged=1")) == []
    [entry] = audit_rows(app, "flag_handled")
    assert entry.target == f"line_user:{uid}"


def test_a_counsellor_cannot_mark_a_flag_handled(app, chat, line, worker):
    play(chat, BOOKED)
    say(line, worker, chat.user_id, "消えたい")
    create_counsellor_operator(app, "aoki.satomi@desk.example.jp", "青木 里美")
    counsellor = signed_in_client(app, "aoki.satomi@desk.example.jp")
    uid = user_id(app, chat.user_id)
    page = counsellor.get(f"/console/conversations/{uid}").get_data(as_text=True)
    assert "要注意" in page and "対応済みにする" not in page
    response = post_form(counsellor, f"/console/conversations/{uid}", f"/console/conversations/{uid}/flag-handled")
    assert response.status_code == 403
    with db(app).transaction() as session:
        assert session.get(LineUser, uid).flagged_at is not None


def test_users_stuck_at_a_step_are_found(app, admin, services, line, worker):
    # One user answers the age question wrongly twice in a row; another stopped at the topic long ago.
    chat = Chat(services, "U" + "d" * 32, TUESDAY_MORNING)
    load_demo_data(services.db)
    play(chat, AGREED + TO_DATES[:2] + [(send("わからない"),), (send("たくさん"),)])
    say(line, worker, TALKER, "相談を予約する", "同意する")
    say(line, worker, "U" + "e" * 32, "相談を予約する", "同意する")  # still answering: not stuck
    reasking, idle, busy = user_id(app, chat.user_id), user_id(app, TALKER), user_id(app, "U" + "e" * 32)
    with db(app).transaction() as session:
        session.execute(update(ConversationState).where(ConversationState.user_id == idle)
                        .values(updated_at=services.clock() - timedelta(minutes=25)))

    stuck = admin.get("/console/conversations?stuck=1")
    assert set(rows_of(stuck)) == {f"LINE利用者 #{reasking}", f"LINE利用者 #{idle}"}
    assert "聞き直し2回" in stuck.get_data(as_text=True)
    assert rows_of(admin.get("/console/conversations?step=booking:age")) == [f"LINE利用者 #{reasking}"]
    assert set(rows_of(admin.get("/console/conversations?step=booking:topic"))) == {f"LINE利用者 #{idle}",
                                                                                   f"LINE利用者 #{busy}"}
    assert rows_of(admin.get("/console/conversations?step=booking:topic&stuck=1")) == [f"LINE利用者 #{idle}"]
    assert rows_of(admin.get("/console/conversations?step=booking:name")) == []


def test_the_list_is_paginated_newest_first(app, admin):
    with db(app).transaction() as session:
        for n in range(35):
            session.add(LineUser(line_user_id=f"U{n:02d}" + "f" * 30, last_seen_at=db(app).clock() - timedelta(minutes=n)))
    first = admin.get("/console/conversations")
    second = admin.get("/console/conversations?page=2")
    assert len(rows_of(first)) == 30 and len(rows_of(second)) == 5
    assert "35件" in first.get_data(as_text=True) and "1 / 2" in first.get_data(as_text=True)
    assert not set(rows_of(first)) & set(rows_of(second))
    with db(app).transaction() as session:
        newest = session.scalar(select(LineUser.id).order_by(LineUser.last_seen_at.desc()))
    assert rows_of(first)[0] == f"LINE利用者 #{newest}"


def test_the_conversation_links_the_users_bookings(app, admin, chat):
    play(chat, BOOKED)
    with db(app).transaction() as session:
        booking = session.scalar(select(Booking))
    body = admin.get(f"/console/conversations/{booking.user_id}").get_data(as_text=True)
    assert f'href="/console/bookings/{booking.reference}"' in body and "確定" in body
    assert admin.get("/console/conversations/999999").status_code == 404


def search(client, text: str, **filters: str):
    """Fill in the list's filter form and submit it, as an operator does."""
    response = post_form(client, "/console/conversations", "/console/conversations", {"q": text, **filters})
    assert response.status_code == 303
    assert not text or text not in unquote(response.location)
    return client.get(response.location)


def test_the_searched_text_never_appears_in_a_url(app, admin):
    with db(app).transaction() as session:
        users = [LineUser(line_user_id=f"U{n}" + "5" * 32) for n in range(2)]
        session.add_all(users)
        session.flush()
        session.add(MessageLog(user_id=users[0].id, direction="in", kind="text", text="山田です、090-1234-5678",
                               payload={}))
    response = post_form(admin, "/console/conversations", "/console/conversations", {"q": "090-1234"})
    assert response.status_code == 303 and "090" not in unquote(response.location)
    assert rows_of(admin.get(response.location)) == [f"LINE利用者 #{users[0].id}"]
    # A search typed into a URL is not one: the list ignores it.
    assert len(rows_of(admin.get("/console/conversations?q=090-1234"))) == 2

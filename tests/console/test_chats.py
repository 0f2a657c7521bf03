"""チャット相談 in the console (issue 17, the staff side): who sees it, the operator's availability, taking
a chat (one operator per chat, even when two take it at once), answering, canned replies, handing
over and ending it, and the lists' live feed."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.demo import DEMO_CHAT_TEMPLATES, load_demo_data
from models import Chat, ChatTemplate, Counsellor, LineUser, MessageLog, Operator, OutboundMessage
from tests.support.console import (
    ADMIN_EMAIL,
    VIEWER_EMAIL,
    audit_rows,
    create_counsellor_operator,
    csrf_token,
    db,
    post_form,
    signed_in_client,
    text_of,
)

USER = "U" + "c" * 32
SECOND = "U" + "d" * 32
COUNSELLOR = "kondo.mai@desk.example.jp"
ELEVEN = datetime(2026, 12, 1, 11, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # a Tuesday, inside the chat hours
TAKEN = "このチャットはすでに他の相談員が対応しているか、終了しています。"


@pytest.fixture(autouse=True)
def desk_open(app):
    """Every test here starts at 11:00 on a Tuesday, before anyone signs in."""
    app.extensions["services"].clock.set(ELEVEN)


def counsellor_client(app, email: str = COUNSELLOR, name: str = "近藤 舞"):
    with db(app).transaction() as session:
        session.add(Counsellor(name=name, email=email, topics=["その他"], weekly={}, days_off=[]))
    create_counsellor_operator(app, email, name)
    return signed_in_client(app, email)


def set_available(client, on: bool = True):
    return post_form(client, "/console/chats", "/console/chats/availability", {"available": "1" if on else "0"})


def say(line, worker, user: str, *texts: str) -> None:
    for said in texts:
        line.post(line.text(user, said))
        worker.run_until_idle()


def ask_for_a_person(line, worker, user: str = USER) -> None:
    line.post(line.follow(user))
    worker.run_until_idle()
    say(line, worker, user, "同意する", "チャット相談")


def chat_of(app, user: str = USER) -> Chat:
    with db(app).transaction() as session:
        return session.scalar(select(Chat).join(LineUser).where(LineUser.line_user_id == user).order_by(Chat.id.desc()))


def take(client, chat_id: int):
    return post_form(client, "/console/chats", f"/console/chats/{chat_id}/take")


def send(client, chat_id: int, **data):
    return post_form(client, f"/console/chats/{chat_id}", f"/console/chats/{chat_id}/send", data)


def operator_id(app, email: str) -> int:
    with db(app).transaction() as session:
        return session.scalar(select(Operator.id).where(Operator.email == email))


def outbound_count(app) -> int:
    with db(app).transaction() as session:
        return len(session.scalars(select(OutboundMessage.id)).all())


@pytest.fixture
def waiting(app, admin, line, worker) -> int:
    """The admin is available and USER has asked for a person: the chat waits in line."""
    assert set_available(admin).status_code == 303
    ask_for_a_person(line, worker)
    chat = chat_of(app)
    assert chat.status == "waiting"
    return chat.id


@pytest.fixture
def taken(app, admin, waiting, worker) -> int:
    """The admin took USER's chat."""
    assert take(admin, waiting).status_code == 303
    worker.run_until_idle()
    return waiting


# -- who sees it -----------------------------------------------------------------------------------

def test_a_viewer_has_no_chat_menu_item_and_gets_403_on_every_chat_page(app, world):
    viewer = signed_in_client(app, VIEWER_EMAIL)
    assert "チャット相談" not in text_of(viewer.get("/console/"))
    for path in ("/console/chats", "/console/chats/feed", f"/console/chats/{world['own']['chat_id']}",
                 f"/console/chats/{world['own']['chat_id']}/messages", "/console/chat-templates"):
        assert viewer.get(path).status_code == 403, path
    token = csrf_token(viewer.get("/console/"))
    assert viewer.post("/console/chats/availability", data={"available": "1", "csrf_token": token}).status_code == 403


def test_admins_and_counsellors_find_chat_consultation_in_the_menu(app, admin):
    counsellor = counsellor_client(app)
    for client in (admin, counsellor):
        home = text_of(client.get("/console/"))
        assert 'href="/console/chats"' in home and "チャット相談" in home
        page = client.get("/console/chats")
        assert page.status_code == 200
        assert "順番待ち" in text_of(page) and "対応停止" in text_of(page)


def test_only_the_chats_operator_and_admins_read_its_timeline(app, admin, taken, line, worker):
    other = counsellor_client(app)
    assert other.get(f"/console/chats/{taken}").status_code == 404
    assert other.get(f"/console/chats/{taken}/messages").status_code == 404
    assert other.get("/console/chats").status_code == 200  # but the lists, to take waiting chats
    page = admin.get(f"/console/chats/{taken}")
    assert page.status_code == 200 and "チャット相談" in text_of(page)
    [entry] = audit_rows(app, "view_chat")
    assert entry.target == f"chat:{taken}" and entry.operator_email == ADMIN_EMAIL


# -- availability ------------------------------------------------------------------------------------

def test_the_availability_toggle_decides_whether_the_user_joins_the_line(app, admin, line, worker):
    assert "対応可能にする" in text_of(admin.get("/console/chats"))
    set_available(admin, True)
    assert "対応停止にする" in text_of(admin.get("/console/chats"))
    ask_for_a_person(line, worker, USER)
    assert any("順番待ちに登録しました" in said for said in line.received(USER))

    set_available(admin, False)
    ask_for_a_person(line, worker, SECOND)
    assert "対応できる相談員がいません" in "\n".join(line.received(SECOND))
    assert chat_of(app, SECOND) is None
    assert [e.action for e in audit_rows(app) if e.action.startswith("chat_available")] == \
        ["chat_available_on", "chat_available_off"]


def test_signing_out_makes_the_operator_unavailable(app, admin):
    set_available(admin, True)
    with db(app).transaction() as session:
        assert session.get(Operator, operator_id(app, ADMIN_EMAIL)).chat_available
    post_form(admin, "/console/chats", "/console/logout")
    with db(app).transaction() as session:
        assert not session.get(Operator, operator_id(app, ADMIN_EMAIL)).chat_available


def test_an_idle_session_that_ends_makes_the_operator_unavailable(app, admin, clock):
    set_available(admin, True)
    clock.advance(timedelta(minutes=app.extensions["services"].config.console_idle_minutes + 1))
    admin.get("/console/chats/feed")  # the page's own poll finds the session idle
    with db(app).transaction() as session:
        assert not session.get(Operator, operator_id(app, ADMIN_EMAIL)).chat_available


# -- the lists and their feed ------------------------------------------------------------------------

def test_a_waiting_chat_is_listed_with_its_wait_and_counted_in_the_title_and_the_feed(app, admin, waiting, clock):
    clock.advance(timedelta(minutes=3))
    page = text_of(admin.get("/console/chats"))
    assert re.search(r"<title>\(1\) チャット相談｜", page)
    assert f'data-id="{waiting}"' in page and "3分" in page and "引き受ける" in page

    feed = admin.get("/console/chats/feed")
    assert feed.mimetype == "application/json"
    data = feed.get_json()
    assert data["waiting_count"] == 1
    [row] = data["waiting"]
    assert row["id"] == waiting and row["waited"] == "3分" and row["take_url"] == f"/console/chats/{waiting}/take"
    assert USER not in feed.get_data(as_text=True)  # never the LINE user id
    assert set(row) == {"id", "user", "requested", "waited", "crisis", "take_url"}


def test_the_feed_is_not_audited_on_every_poll(app, admin, waiting):
    admin.get("/console/chats")
    before = len(audit_rows(app))
    admin.get("/console/chats/feed")
    admin.get("/console/chats/feed")
    assert len(audit_rows(app)) == before


def test_a_page_with_no_waiting_chat_has_the_plain_title(app, admin):
    assert re.search(r"<title>チャット相談｜", text_of(admin.get("/console/chats")))


# -- taking ------------------------------------------------------------------------------------------

def test_taking_a_chat_tells_the_user_a_counsellor_is_there_and_opens_the_chat(app, admin, waiting, line, worker):
    response = take(admin, waiting)
    assert response.status_code == 303 and response.location.endswith(f"/console/chats/{waiting}")
    worker.run_until_idle()
    assert "相談員につながりました" in line.received(USER)[-1]
    chat = chat_of(app)
    assert chat.status == "active" and chat.operator_id == operator_id(app, ADMIN_EMAIL)
    [entry] = audit_rows(app, "take_chat")
    assert entry.target == f"chat:{waiting}"
    page = text_of(admin.get(f"/console/chats/{waiting}"))
    assert "返信" in page and "送信" in page and "終了" in page


def test_a_second_take_is_refused_with_the_reason(app, admin, taken):
    counsellor = counsellor_client(app)
    response = take(counsellor, taken)
    assert response.status_code == 409
    assert TAKEN in text_of(response)
    assert chat_of(app).operator_id == operator_id(app, ADMIN_EMAIL)


def test_two_operators_taking_at_once_one_wins_and_the_other_is_told(app, admin, waiting, line, worker):
    counsellor = counsellor_client(app)
    clients = [admin, counsellor]
    tokens = [csrf_token(c.get("/console/chats")) for c in clients]
    start = threading.Barrier(2)
    answers: list = [None, None]

    def take_at_once(n: int) -> None:
        start.wait()
        answers[n] = clients[n].post(f"/console/chats/{waiting}/take", data={"csrf_token": tokens[n]})

    threads = [threading.Thread(target=take_at_once, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(a.status_code for a in answers) == [303, 409]
    loser = next(a for a in answers if a.status_code == 409)
    assert TAKEN in text_of(loser)
    winner = ADMIN_EMAIL if answers[0].status_code == 303 else COUNSELLOR
    assert chat_of(app).operator_id == operator_id(app, winner)
    worker.run_until_idle()
    assert sum("相談員につながりました" in said for said in line.received(USER)) == 1
    assert len(audit_rows(app, "take_chat")) == 1


# -- answering ---------------------------------------------------------------------------------------

def test_a_reply_is_delivered_logged_with_its_operator_shown_in_the_timeline_and_audited(
        app, admin, taken, line, worker, fake_line):
    response = send(admin, taken, what="text", text="お話を伺います。どうされましたか？")
    assert response.status_code == 303
    worker.run_until_idle()
    assert line.received(USER)[-1] == "お話を伺います。どうされましたか？"
    with db(app).transaction() as session:
        row = session.scalar(select(MessageLog).where(MessageLog.text == "お話を伺います。どうされましたか？"))
    assert row.direction == "out" and row.operator_id == operator_id(app, ADMIN_EMAIL)
    page = text_of(admin.get(f"/console/chats/{taken}"))
    assert "お話を伺います。どうされましたか？" in page and "送信：窓口 管理者" in page
    [entry] = audit_rows(app, "send_chat_message")
    detail = json.loads(entry.detail)
    assert entry.target == f"chat:{taken}" and detail["what"] == "text" and detail["characters"] == 17
    assert "お話を伺います" not in entry.detail


def test_a_reply_over_5000_characters_is_refused_kept_in_the_box_and_nothing_is_sent(app, admin, taken):
    before = outbound_count(app)
    response = send(admin, taken, what="text", text="あ" * 5001)
    assert response.status_code == 400
    page = text_of(response)
    assert "1回に送れるのは5,000文字までです（いま5,001文字）。" in page
    assert "あ" * 5001 in page  # the text is still in the reply box
    assert outbound_count(app) == before
    assert audit_rows(app, "send_chat_message") == []
    assert send(admin, taken, what="text", text="い" * 5000).status_code == 303


def test_the_booking_button_the_faq_and_a_canned_reply_reach_the_user(app, admin, taken, line, worker, fake_line):
    with db(app).transaction() as session:
        canned = ChatTemplate(title="お待ちください", body="確認しますので少々お待ちください。")
        session.add(canned)
        session.flush()
        canned_id = canned.id
    page = text_of(admin.get(f"/console/chats/{taken}"))
    assert "お待ちください</option>" in page
    for data in ({"what": "booking"}, {"what": "faq"}, {"what": "template", "template_id": str(canned_id)}):
        assert send(admin, taken, **data).status_code == 303
    worker.run_until_idle()
    delivered = [d.message for d in fake_line.store.messages_to(USER)]
    labels = json.dumps(delivered[-3:], ensure_ascii=False)
    assert "相談を予約する" in labels and delivered[-1]["text"] == "確認しますので少々お待ちください。"
    assert [json.loads(e.detail)["what"] for e in audit_rows(app, "send_chat_message")] == ["booking", "faq", "template"]


def test_the_timeline_refreshes_with_what_the_user_writes_and_shows_markup_as_text(app, admin, taken, line, worker):
    page = text_of(admin.get(f"/console/chats/{taken}"))
    last_id = int(re.search(r'data-last-id="(\d+)"', page).group(1))
    say(line, worker, USER, "<script>alert(1)</script>残業代が出ません")
    data = admin.get(f"/console/chats/{taken}/messages?after={last_id}").get_json()
    assert [m["text"] for m in data["messages"]] == ["<script>alert(1)</script>残業代が出ません"]
    assert data["open"] is True
    page = text_of(admin.get(f"/console/chats/{taken}"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;残業代が出ません" in page and "<script>alert(1)" not in page


# -- handing over and ending -----------------------------------------------------------------------

def test_handing_over_gives_the_chat_to_the_colleague(app, admin, taken):
    counsellor = counsellor_client(app)
    to = operator_id(app, COUNSELLOR)
    response = post_form(admin, f"/console/chats/{taken}", f"/console/chats/{taken}/hand-over", {"to": str(to)})
    assert response.status_code == 303
    assert chat_of(app).operator_id == to
    assert counsellor.get(f"/console/chats/{taken}").status_code == 200
    [entry] = audit_rows(app, "hand_over_chat")
    assert json.loads(entry.detail) == {"to": f"operator:{to}"}


def test_ending_with_an_outcome_asks_the_user_for_a_rating(app, admin, taken, line, worker):
    response = post_form(admin, f"/console/chats/{taken}", f"/console/chats/{taken}/end", {"outcome": "booking"})
    assert response.status_code == 303
    worker.run_until_idle()
    said = "\n".join(line.received(USER)[-2:])
    assert "チャット相談を終了しました" in said and "満足度を5段階" in said
    chat = chat_of(app)
    assert (chat.status, chat.outcome, chat.ended_by) == ("ended", "booking", "operator")
    [entry] = audit_rows(app, "end_chat")
    assert json.loads(entry.detail) == {"outcome": "booking"}
    listed = text_of(admin.get("/console/chats"))
    assert "予約を案内" in listed and "相談員が終了" in listed
    assert admin.get(f"/console/chats/{taken}/messages").get_json()["open"] is False


def test_ending_without_an_outcome_is_refused(app, admin, taken):
    response = post_form(admin, f"/console/chats/{taken}", f"/console/chats/{taken}/end", {"outcome": ""})
    assert response.status_code == 303
    assert "終了の区分を選んでください。" in text_of(admin.get(response.location))
    assert chat_of(app).status == "active"


# -- canned replies ----------------------------------------------------------------------------------

def test_an_admin_adds_edits_and_deletes_canned_replies(app, admin):
    assert post_form(admin, "/console/chat-templates", "/console/chat-templates",
                     {"title": "ご挨拶", "body": "ご相談ありがとうございます。"}).status_code == 303
    page = text_of(admin.get("/console/chat-templates"))
    assert "ご挨拶" in page and "ご相談ありがとうございます。" in page
    with db(app).transaction() as session:
        template_id = session.scalar(select(ChatTemplate.id))
    assert post_form(admin, f"/console/chat-templates/{template_id}", f"/console/chat-templates/{template_id}",
                     {"title": "ご挨拶", "body": "<b>ようこそ</b>"}).status_code == 303
    page = text_of(admin.get("/console/chat-templates"))
    assert "&lt;b&gt;ようこそ&lt;/b&gt;" in page and "<b>ようこそ" not in page
    assert post_form(admin, "/console/chat-templates", f"/console/chat-templates/{template_id}/delete").status_code == 303
    assert "定型文はまだありません" in text_of(admin.get("/console/chat-templates"))
    assert [e.action for e in audit_rows(app) if e.action.startswith("chat_template")] == \
        ["chat_template_created", "chat_template_updated", "chat_template_deleted"]


def test_a_canned_reply_without_a_title_is_refused(app, admin):
    response = post_form(admin, "/console/chat-templates", "/console/chat-templates", {"title": "", "body": "本文"})
    assert response.status_code == 400 and "見出しと本文を入力してください。" in text_of(response)


def test_a_counsellor_cannot_manage_canned_replies(app, admin):
    counsellor = counsellor_client(app)
    assert counsellor.get("/console/chat-templates").status_code == 403
    token = csrf_token(counsellor.get("/console/chats"))
    assert counsellor.post("/console/chat-templates", data={"title": "x", "body": "y", "csrf_token": token}
                           ).status_code == 403
    assert "定型文の管理" not in text_of(counsellor.get("/console/chats"))


def test_the_demo_data_brings_canned_replies_once(app):
    load_demo_data(db(app), operators=True)
    load_demo_data(db(app), operators=True)
    with db(app).transaction() as session:
        titles = sorted(session.scalars(select(ChatTemplate.title)))
    assert titles == sorted(title for title, _ in DEMO_CHAT_TEMPLATES)

"""An operator's chat message reaches LINE once: by the reply token the user's last message left
unused while it is fresh, else by push with a retry key, retried when LINE fails."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from handlers import chats, users
from models import Chat, LineUser, MessageLog, OutboundMessage
from tests.conftest import make_jobs_due
from tests.support.chat_desk import on_duty, operator
from tests.support.fake_line import PUSH, REPLY

USER = "U4444444444444444444444444444444d"


@pytest.fixture
def in_chat(line, worker, services, clock):
    """USER agreed to the policy, asked for a person at 11:00 on a Tuesday, and an operator took the chat."""
    clock.set(datetime(2026, 12, 1, 11, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
    operator_id = on_duty(services)
    line.post(line.follow(USER))
    for said in ("同意する", "チャット相談"):
        line.post(line.text(USER, said))
        worker.run_until_idle()
    with services.db.transaction() as session:
        chat_id = session.scalar(select(Chat.id).join(LineUser).where(LineUser.line_user_id == USER))
        chats.take(services, session, chat_id, operator(session, operator_id))
    worker.run_until_idle()
    return chat_id, operator_id


def send(services, chat_id, operator_id, text):
    with services.db.transaction() as session:
        return chats.send(services, session, chat_id, operator(session, operator_id), "text", text)


def test_the_user_hears_they_are_in_line_and_then_that_a_counsellor_answers(line, in_chat):
    received = line.received(USER)
    assert any("順番待ちに登録しました" in r for r in received)
    assert "相談員につながりました" in received[-1]


def test_the_operators_answer_uses_the_users_unanswered_reply_token_then_a_push(line, worker, fake_line,
                                                                                 services, in_chat):
    line.post(line.text(USER, "残業代が出ません"))
    worker.run_until_idle()
    replies_before = len(fake_line.calls_to(REPLY))
    assert send(services, *in_chat, "お話を伺います。").by_reply
    assert not send(services, *in_chat, "いつからですか？").by_reply
    worker.run_until_idle()
    delivered = fake_line.store.messages_to(USER)[-2:]
    assert [(d.via, d.message["text"]) for d in delivered] == [("reply", "お話を伺います。"), ("push", "いつからですか？")]
    assert len(fake_line.calls_to(REPLY)) == replies_before + 1


def test_a_push_line_fails_is_retried_and_the_user_gets_the_message_once(line, worker, fake_line, services, in_chat):
    fake_line.fail_next(PUSH, 500)
    send(services, *in_chat, "ご相談ありがとうございます。")
    worker.run_until_idle()
    make_jobs_due(services.db)
    worker.run_until_idle()
    got = [d.message.get("text") for d in fake_line.store.messages_to(USER)]
    assert got.count("ご相談ありがとうございます。") == 1


def test_words_of_crisis_in_a_chat_get_the_hotlines_by_reply_at_once(line, worker, fake_line, in_chat):
    line.post(line.text(USER, "消えたい"))
    worker.run_until_idle()
    assert "0120-279-338" in "\n".join(line.received(USER)[-2:])


def test_erasing_the_user_blanks_the_operators_messages_too(line, worker, services, clock, in_chat):
    line.post(line.text(USER, "残業代が出ません"))
    worker.run_until_idle()
    send(services, *in_chat, "山田さん、お話を伺います。")
    worker.run_until_idle()
    with services.db.transaction() as session:
        chats.close(services, session, in_chat[0], operator(session, in_chat[1]), "resolved")
    worker.run_until_idle()
    with services.db.transaction() as session:
        user_id = session.scalar(select(LineUser.id).where(LineUser.line_user_id == USER))
        users.erase(session, user_id, clock())
    with services.db.transaction() as session:
        logged = session.scalars(select(MessageLog).where(MessageLog.user_id == user_id)).all()
        assert [m for m in logged if m.operator_id] and all(m.text is None for m in logged)
        assert all(o.messages == [] for o in session.scalars(select(OutboundMessage)))
        assert session.scalar(select(Chat.reply_token)) is None

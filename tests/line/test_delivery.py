"""The worker answers each event once: by reply while the token is fresh, by push otherwise."""

from __future__ import annotations

import threading
from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import select, update

from bot.line.outbox import DELIVER_JOB
from bot.simulator import events as line_events
from handlers import delivery
from models import Job, LineUser, MessageLog, OutboundMessage
from tests.conftest import make_jobs_due
from tests.support.chat import actions_in
from tests.support.fake_line import PUSH, REPLY
from tests.support.processes import wait_for

USER = "U3333333333333333333333333333333c"


def outbound(db) -> list[OutboundMessage]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def delivered_exactly_once(fake_line, db, user: str) -> bool:
    """The user received every message the bot owed them, each once, in order."""
    owed = [message for o in outbound(db) for message in o.messages]
    return bool(owed) and [d.message for d in fake_line.store.messages_to(user)] == owed


def test_following_the_account_brings_a_greeting_by_reply(line, worker, fake_line):
    line.post(line.follow(USER))
    worker.run_until_idle()
    received = fake_line.store.messages_to(USER)
    assert {d.via for d in received} == {"reply"}
    assert len(fake_line.calls_to(REPLY)) == 1
    assert "友だち追加ありがとうございます" in received[0].message["text"]


def test_a_text_message_is_answered_once(line, worker, fake_line, services):
    line.post(line.text(USER, "こんにちは"))
    worker.run_until_idle()
    assert len(fake_line.calls_to(REPLY)) == 1
    assert delivered_exactly_once(fake_line, services.db, USER)


def test_a_sticker_gets_the_only_text_and_buttons_answer(line, worker):
    line.post(line_events.sticker(USER, line.token(USER)))
    worker.run_until_idle()
    assert "文字のメッセージとボタン" in line.received(USER)[0]


def test_a_redelivered_event_is_answered_only_once(line, worker, fake_line, services):
    event = line.text(USER, "予約")
    line.post(event)
    line.post({**event, "deliveryContext": {"isRedelivery": True}})
    worker.run_until_idle()
    assert len(fake_line.calls_to(REPLY)) == 1
    assert delivered_exactly_once(fake_line, services.db, USER)


def test_an_expired_reply_token_falls_back_to_one_push(line, worker, fake_line, services):
    line.post(line.text(USER, "遅れて届く"))
    fake_line.store.expire_reply_tokens()
    worker.run_until_idle()
    assert {d.via for d in fake_line.store.messages_to(USER)} == {"push"}
    assert delivered_exactly_once(fake_line, services.db, USER)
    [sent] = outbound(services.db)
    assert (sent.status, sent.method) == ("sent", "push")
    assert fake_line.calls_to(PUSH)[0].headers["X-Line-Retry-Key"] == sent.retry_key


def test_a_reply_token_past_our_deadline_is_not_tried(line, worker, fake_line, services):
    services.config = services.config.but(reply_token_ttl_seconds=0)
    line.post(line.text(USER, "遅い"))
    worker.run_until_idle()
    assert fake_line.calls_to(REPLY) == []
    assert {d.via for d in fake_line.store.messages_to(USER)} == {"push"}


def test_a_push_retried_after_an_unanswered_attempt_is_not_delivered_twice(line, worker, fake_line, services):
    line.post(line.text(USER, "hi"))
    fake_line.store.expire_reply_tokens()
    fake_line.fail_next(PUSH, ("accept_then_stall", 2))  # LINE takes it but the answer comes too late
    worker.run_until_idle()
    make_jobs_due(services.db)
    worker.run_until_idle()
    pushes = fake_line.calls_to(PUSH)
    assert [c.status for c in pushes] == [200, 409]
    assert pushes[0].headers["X-Line-Retry-Key"] == pushes[1].headers["X-Line-Retry-Key"]
    assert delivered_exactly_once(fake_line, services.db, USER)
    assert outbound(services.db)[0].status == "sent"


def test_a_reply_that_got_no_answer_is_not_pushed_again(line, worker, fake_line, services):
    line.post(line.text(USER, "hi"))
    fake_line.fail_next(REPLY, ("accept_then_stall", 2))
    worker.run_until_idle()
    make_jobs_due(services.db)
    worker.run_until_idle()
    assert delivered_exactly_once(fake_line, services.db, USER)
    assert fake_line.calls_to(PUSH) == []


def test_a_reply_that_stalled_unprocessed_is_sent_by_the_retry(line, worker, fake_line, services):
    line.post(line.text(USER, "hi"))
    fake_line.fail_next(REPLY, ("stall", 1.5))
    worker.run_until_idle()
    make_jobs_due(services.db)
    worker.run_until_idle()
    assert {d.via for d in fake_line.store.messages_to(USER)} == {"reply"}
    assert delivered_exactly_once(fake_line, services.db, USER)


def replies_sent() -> float:
    return REGISTRY.get_sample_value("desk_line_messages_sent_total", {"method": "reply", "kind": "answer"}) or 0.0


def test_a_delivery_whose_job_was_taken_over_records_nothing(line, worker, fake_line, services):
    line.post(line.text(USER, "hi"))
    answer = fake_line.hold(REPLY)
    replies = replies_sent()
    running = threading.Thread(target=worker.run_until_idle)
    running.start()
    try:
        wait_for(lambda: REPLY in fake_line.arrivals, timeout=15)
        # While LINE takes the reply, another worker takes the job over (this one's lease ran out).
        with services.db.transaction() as session:
            session.execute(update(Job).where(Job.kind == DELIVER_JOB).values(lease_token="another-worker"))
    finally:
        answer.set()
    running.join(30)
    [message] = outbound(services.db)
    assert (message.status, message.reply_in_doubt) == ("pending", True)
    assert replies_sent() == replies
    with services.db.transaction() as session:
        assert session.scalar(select(Job.lease_token).where(Job.kind == DELIVER_JOB)) == "another-worker"

    # That worker dies too: the next one finds the reply in doubt, and LINE's refusal of the used
    # token tells it the user has the message.
    ran_out = services.clock() - timedelta(seconds=1)
    with services.db.transaction() as session:
        session.execute(update(Job).where(Job.kind == DELIVER_JOB).values(lease_until=ran_out))
    worker.run_until_idle()
    assert [c.status for c in fake_line.calls_to(REPLY)] == [200, 400]
    assert delivered_exactly_once(fake_line, services.db, USER)
    assert outbound(services.db)[0].status == "sent"


def test_a_delivery_run_outside_its_job_records_the_send_and_leaves_the_job_nothing_to_send(line, worker, fake_line,
                                                                                            services):
    line.post(line.text(USER, "hi"))
    fake_line.fail_next(REPLY, 500)
    worker.run_until_idle()
    with services.db.transaction() as session:
        job = session.scalar(select(Job).where(Job.kind == DELIVER_JOB))
    delivery.deliver(services, job.payload)
    assert outbound(services.db)[0].status == "sent"
    with services.db.transaction() as session:
        assert session.get(Job, job.id).status == "pending"
    make_jobs_due(services.db)
    worker.run_until_idle()
    assert [c.status for c in fake_line.calls_to(REPLY)] == [500, 200]
    assert delivered_exactly_once(fake_line, services.db, USER)


def test_429_and_500_from_line_are_retried_until_delivered(line, worker, fake_line, services):
    line.post(line.text(USER, "hi"))
    fake_line.fail_next(REPLY, 429, 500)
    worker.run_until_idle()
    assert fake_line.store.messages_to(USER) == []
    with services.db.transaction() as session:
        job = session.scalar(select(Job).where(Job.kind == "line_deliver"))
        assert job.status == "pending" and job.attempts == 1
    for _ in range(2):
        make_jobs_due(services.db)
        worker.run_until_idle()
    assert delivered_exactly_once(fake_line, services.db, USER)
    assert [c.status for c in fake_line.calls_to(REPLY)] == [429, 500, 200]


def test_a_push_line_refuses_is_recorded_as_failed_and_not_retried(line, worker, fake_line, services):
    line.post(line.text(USER, "hi"))
    fake_line.store.expire_reply_tokens()
    fake_line.fail_next(PUSH, 400)
    worker.run_until_idle()
    make_jobs_due(services.db)
    worker.run_until_idle()
    assert len(fake_line.calls_to(PUSH)) == 1
    [sent] = outbound(services.db)
    assert sent.status == "failed" and "400" in sent.error


def test_a_user_who_blocked_the_account_is_not_pushed(line, worker, fake_line, services):
    line.post(line.follow(USER))
    line.post(line.text(USER, "hi"))
    fake_line.store.expire_reply_tokens()
    fake_line.fail_next(PUSH, 500)  # the answers wait for a retry, and meanwhile the user blocks the account
    worker.run_until_idle()
    line.post(line_events.unfollow(USER))
    worker.run_until_idle()
    make_jobs_due(services.db)
    worker.run_until_idle()
    assert [c.status for c in fake_line.calls_to(PUSH)] == [500]
    with services.db.transaction() as session:
        user = session.scalar(select(LineUser).where(LineUser.line_user_id == USER))
        assert user.blocked
    assert {o.status for o in outbound(services.db)} == {"skipped"}


def test_following_again_unblocks_the_user(line, worker, services):
    line.post(line.follow(USER))
    line.post(line_events.unfollow(USER))
    line.post(line_events.follow(USER, line.token(USER), unblocked=True))
    worker.run_until_idle()
    with services.db.transaction() as session:
        assert not session.scalar(select(LineUser).where(LineUser.line_user_id == USER)).blocked
    assert any("おかえりなさい" in text for text in line.received(USER))


def test_the_conversation_log_records_both_directions_with_their_step(line, worker, services):
    line.post(line.follow(USER))
    line.post(line.text(USER, "相談したいです"))
    worker.run_until_idle()
    with services.db.transaction() as session:
        rows = session.scalars(select(MessageLog).order_by(MessageLog.id)).all()
        inbound = [r for r in rows if r.direction == "in"]
        assert [(r.kind, r.text) for r in inbound] == [("follow", None), ("text", "相談したいです")]
        # The text answered the consent question the follow had asked.
        assert (inbound[1].flow, inbound[1].step) == ("consent", "agree")
        outbound_rows = [r for r in rows if r.direction == "out"]
        assert outbound_rows and all(r.flow == "consent" and r.step == "agree" for r in outbound_rows)
        assert outbound_rows[0].text.startswith("友だち追加ありがとうございます")


def test_the_conversation_log_records_a_tapped_button_by_the_label_the_user_saw(line, worker, services):
    line.post(line.follow(USER))
    worker.run_until_idle()
    with services.db.transaction() as session:
        card = session.scalars(select(MessageLog.payload).where(MessageLog.direction == "out")).all()
    agree = next(a for a in actions_in(card) if a.get("label") == "同意する")
    line.post(line_events.postback(USER, line.token(USER), agree["data"]))
    line.post(line_events.postback(USER, line.token(USER), "no-such-button|x"))
    worker.run_until_idle()
    with services.db.transaction() as session:
        taps = session.scalars(select(MessageLog).where(MessageLog.kind == "postback").order_by(MessageLog.id)).all()
        assert [t.text for t in taps] == ["同意する", "no-such-button|x"]
        assert taps[0].payload["data"] == agree["data"]  # the data itself is kept


def test_an_unknown_event_type_is_recorded_and_the_queue_moves_on(line, worker, services, fake_line):
    strange = {"type": "somethingNew", "timestamp": 1, "source": {"type": "user", "userId": USER},
               "webhookEventId": "01STRANGE", "deliveryContext": {"isRedelivery": False}}
    line.post(strange, line.text(USER, "hi"))
    worker.run_until_idle()
    assert len(fake_line.calls_to(REPLY)) == 1
    with services.db.transaction() as session:
        assert {j.status for j in session.scalars(select(Job))} == {"done"}

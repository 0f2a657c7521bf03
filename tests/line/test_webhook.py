"""POST /callback: only LINE's signed bodies are stored, each event once, and LINE gets its answer at once."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlalchemy import func, select

from bot.simulator import events as line_events
from models import Job, MessageLog, WebhookEvent

USER = "U1111111111111111111111111111111a"


def stored_events(app) -> int:
    with app.extensions["db"].transaction() as session:
        return session.scalar(select(func.count()).select_from(WebhookEvent))


def test_a_signed_event_is_stored_and_acknowledged(app, line):
    response = line.post(line.text(USER, "こんにちは"))
    assert response.status_code == 200
    assert stored_events(app) == 1


def test_the_console_verify_ping_gets_200(app, line):
    response = line.post()
    assert response.status_code == 200
    assert stored_events(app) == 0


def test_a_wrong_signature_is_refused_and_nothing_is_stored(app, line):
    response = line.post(line.text(USER, "hi"), signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 400
    assert stored_events(app) == 0


def test_a_missing_signature_is_refused_and_nothing_is_stored(app, client, line):
    body = line_events.body(line.text(USER, "hi"))
    response = client.post("/callback", data=body, content_type="application/json")
    assert response.status_code == 400
    assert stored_events(app) == 0


def test_a_body_signed_with_another_channels_secret_is_refused(app, line):
    event = line.text(USER, "hi")
    forged = line_events.signature("another-channel-secret", line_events.body(event))
    response = line.post(event, signature=forged)
    assert response.status_code == 400
    assert stored_events(app) == 0


def test_a_body_over_one_mebibyte_gets_413(app, client):
    body = json.dumps({"destination": "x", "events": [], "pad": "x" * (1024 * 1024)})
    response = client.post("/callback", data=body, content_type="application/json",
                           headers={"X-Line-Signature": line_events.signature("whatever", body)})
    assert response.status_code == 413
    assert stored_events(app) == 0


def test_a_signed_body_that_is_not_a_webhook_payload_gets_400(app, client, line):
    for body in ("[1, 2]", "not json", '{"destination": "x"}'):
        response = client.post("/callback", data=body, content_type="application/json",
                               headers={"X-Line-Signature": line_events.signature(line.secret, body)})
        assert response.status_code == 400, body
    assert stored_events(app) == 0


def test_a_redelivered_event_is_acknowledged_but_stored_once(app, line):
    event = line.text(USER, "予約したい")
    assert line.post(event).status_code == 200
    redelivered = {**event, "deliveryContext": {"isRedelivery": True}}
    assert line.post(redelivered).status_code == 200
    assert line.post(event).status_code == 200
    assert stored_events(app) == 1
    with app.extensions["db"].transaction() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_events_of_several_users_in_one_body_each_get_a_job_in_their_own_queue(app, line):
    other = "U2222222222222222222222222222222b"
    line.post(line.text(USER, "1"), line.text(other, "2"), line.text(USER, "3"))
    with app.extensions["db"].transaction() as session:
        jobs = session.scalars(select(Job).order_by(Job.id)).all()
        assert [j.queue_key for j in jobs] == [f"in:{USER}", f"in:{other}", f"in:{USER}"]


def test_the_webhook_answers_without_waiting_for_line(app, line, fake_line):
    fake_line.fail_next("/v2/bot/message/reply", ("stall", 5))
    response = line.post(line.text(USER, "hi"))
    assert response.status_code == 200
    assert fake_line.calls == []  # nothing was sent during the request: the worker does that


def test_webhooks_posted_at_once_are_all_acknowledged_and_each_event_stored_once(app, line):
    # Bodies that arrive together are stored together (bot/line/combining.py); LINE sees no difference.
    users = [f"U{i:032x}" for i in range(24)]
    events = [line.text(user, "相談したい") for user in users]
    bodies = [line_events.body(event) for event in events] * 2  # each posted twice, as a redelivery
    statuses: list[int] = []

    def post(body: str) -> None:
        response = app.test_client().post(
            "/callback", data=body.encode(), content_type="application/json",
            headers={"X-Line-Signature": line_events.signature(line.secret, body)})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * len(bodies)
    assert stored_events(app) == len(users)
    with app.extensions["db"].transaction() as session:
        queues = session.scalars(select(Job.queue_key)).all()
    assert sorted(queues) == sorted(f"in:{user}" for user in users)


def test_a_signed_body_older_than_the_retention_period_is_acknowledged_and_never_processed(line, app, clock, worker):
    # The records that would show it was handled are purged after RETENTION_DAYS: a captured body
    # replayed after that must not become a second turn.
    days = app.extensions["config"].retention_days
    old = line.text(USER, "メニュー")
    old["timestamp"] = int((clock() - timedelta(days=days, minutes=1)).timestamp() * 1000)
    recent = line.text(USER, "ヘルプ")
    recent["timestamp"] = int((clock() - timedelta(days=days - 1)).timestamp() * 1000)

    assert line.post(old).status_code == 200
    worker.run_until_idle()
    db = app.extensions["db"]
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
    assert line.received(USER) == []

    assert line.post(recent).status_code == 200
    worker.run_until_idle()
    assert len(line.received(USER)) == 1


def test_a_message_the_user_unsends_is_blanked_in_the_log_and_the_stored_body(line, app, worker):
    said = line.text(USER, "山田です。電話は090-1234-5678です")
    assert line.post(said).status_code == 200
    worker.run_until_idle()
    assert line.post(line_events.unsend(USER, said["message"]["id"])).status_code == 200
    worker.run_until_idle()
    with app.extensions["db"].transaction() as session:
        bodies = [json.dumps(b, ensure_ascii=False) for b in session.scalars(select(WebhookEvent.body))]
        texts = [t for t in session.scalars(select(MessageLog.text).where(MessageLog.direction == "in"))]
    assert not any("090-1234-5678" in b for b in bodies)
    assert "山田です。電話は090-1234-5678です" not in texts


def test_a_signed_event_with_a_reply_token_longer_than_line_issues_is_answered_by_push(line, worker):
    event = line.text(USER, "メニュー")
    event["replyToken"] = "x" * 300
    assert line.post(event).status_code == 200
    worker.run_until_idle()
    assert [d.via for d in line.fake.store.messages_to(USER)] == ["push"]

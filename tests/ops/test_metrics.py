"""/metrics as Prometheus scrapes it: the token, webhook traffic, LINE and Graph calls, jobs, and the
database's view (queue depth and age, bookings by status, dead jobs, open alerts)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot import create_app
from bot.queue import jobs
from bot.demo import load_demo_data
from bot.teams.graph_api import GraphApi
from bot.line.ingest import EVENT_JOB
from bot.line.outbox import DELIVER_JOB
from bot.queue.worker import Worker
from models import Booking, Counsellor, LineUser
from tests.support.fake_line import REPLY
from tests.support.fake_microsoft import FakeMicrosoft
from tests.support.graph_requests import meeting, settings_for

TOKEN = "metrics-token-for-tests"
USER = "U" + "3" * 32
OTHER = "U" + "4" * 32


@pytest.fixture
def config(config):
    return config.but(metrics_token=TOKEN)


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_not_served_while_no_token_is_configured(config):
    app = create_app(config.but(metrics_token=""))
    try:
        assert app.test_client().get("/metrics").status_code == 404
        assert app.test_client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    finally:
        app.extensions["services"].close()


def test_metrics_refuse_a_missing_or_wrong_token(client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_signed_webhook_post_counts_its_events_by_type(client, line):
    before = scrape(client)
    assert line.post(line.follow(USER), line.text(USER, "ヘルプ"), line.text(OTHER, "メニュー")).status_code == 200
    after = scrape(client)
    for kind, added in (("follow", 1), ("message", 2)):
        assert value(after, "desk_webhook_events_total", type=kind) - \
            value(before, "desk_webhook_events_total", type=kind) == added


def test_events_of_an_unknown_or_malformed_type_are_counted_as_other(client, line):
    before = scrape(client)
    odd = [{**line.text(USER, "x"), "type": kind} for kind in ("surprise", ["message"], {"a": 1}, None)]
    assert line.post(*odd).status_code == 200
    after = scrape(client)
    assert value(after, "desk_webhook_events_total", type="other") - \
        value(before, "desk_webhook_events_total", type="other") == 4
    assert not any(dict(labels).get("type") == "surprise" for _, labels in after)


def test_refused_webhook_posts_are_counted_by_reason(app, client, line):
    before = scrape(client)
    assert line.post(line.text(USER, "hi"), signature="forged").status_code == 400
    assert client.post("/callback", data=b"{}", content_type="application/json").status_code == 400
    too_big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert client.post("/callback", data=too_big, headers={"X-Line-Signature": "s"}).status_code == 413
    after = scrape(client)
    for reason in ("bad_signature", "missing_signature", "too_large"):
        assert value(after, "desk_webhook_refused_total", reason=reason) - \
            value(before, "desk_webhook_refused_total", reason=reason) == 1
    assert value(after, "desk_webhook_events_total", type="message") == \
        value(before, "desk_webhook_events_total", type="message")


def test_a_line_reply_answered_500_shows_as_an_error_with_its_latency(client, line, fake_line, worker):
    before = scrape(client)
    fake_line.fail_next(REPLY, 500)
    line.post(line.text(USER, "ヘルプ"))
    worker.run_until_idle()
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("desk_line_api_errors_total", call="reply", status="500") == 1
    assert delta("desk_line_api_request_seconds_count", call="reply", outcome="retry") == 1
    assert delta("desk_line_api_request_seconds_sum", call="reply", outcome="retry") > 0
    assert delta("desk_job_failures_total", kind=DELIVER_JOB, result="retry") == 1
    assert delta("desk_job_run_seconds_count", kind=EVENT_JOB) == 1


def test_the_queue_depth_gauge_counts_pending_jobs_by_kind_and_the_age_of_the_oldest(app, client, line, worker):
    line.post(line.text(USER, "ヘルプ"), line.text(OTHER, "ヘルプ"))
    with app.extensions["db"].transaction() as session:
        jobs.enqueue(session, DELIVER_JOB, {"outbound_id": 999_999}, run_at=app.extensions["db"].clock() - timedelta(seconds=90))
    waiting = scrape(client)
    assert value(waiting, "desk_jobs", kind=EVENT_JOB, status="pending") == 2
    assert value(waiting, "desk_jobs", kind=DELIVER_JOB, status="pending") == 1
    assert value(waiting, "desk_job_oldest_due_age_seconds") >= 90
    assert value(waiting, "desk_database_up") == 1

    worker.run_until_idle()  # the old delivery finds nothing to send: done
    done = scrape(client)
    assert value(done, "desk_jobs", kind=EVENT_JOB, status="pending") == 0
    assert value(done, "desk_jobs", kind=DELIVER_JOB, status="pending") == 0
    assert ("desk_jobs", frozenset({"kind": EVENT_JOB, "status": "pending"}.items())) in done  # 0, not gone
    assert value(done, "desk_job_oldest_due_age_seconds") == 0


def test_dead_jobs_and_open_operator_alerts_are_reported(app, client, services):
    with app.extensions["db"].transaction() as session:
        jobs.enqueue(session, "no_such_kind", {})
    before = scrape(client)
    Worker(services).run_until_idle()
    after = scrape(client)
    assert value(after, "desk_jobs", kind="no_such_kind", status="dead") == 1
    assert value(after, "desk_operator_alerts_open") == 1
    assert value(after, "desk_job_failures_total", kind="no_such_kind", result="dead") - \
        value(before, "desk_job_failures_total", kind="no_such_kind", result="dead") == 1


def test_bookings_are_counted_by_status(app, client):
    db = app.extensions["db"]
    load_demo_data(db)
    start = db.clock().replace(microsecond=0) + timedelta(days=3)
    with db.transaction() as session:
        counsellor = session.scalar(select(Counsellor.id).limit(1))
        user = LineUser(line_user_id=USER)
        session.add(user)
        session.flush()
        for n, status in enumerate(["confirmed", "confirmed", "held", "cancelled"]):
            session.add(Booking(reference=f"R{n:05d}", user_id=user.id, counsellor_id=counsellor, topic="その他",
                                starts_at=start + timedelta(hours=n), ends_at=start + timedelta(hours=n, minutes=30),
                                status=status))
    samples = scrape(client)
    assert value(samples, "desk_bookings", status="confirmed") == 2
    assert value(samples, "desk_bookings", status="held") == 1
    assert value(samples, "desk_bookings", status="cancelled") == 1
    assert ("desk_bookings", frozenset({"status": "no_show"}.items())) in samples


def test_graph_calls_are_timed_and_their_errors_counted_by_status(client):
    before = scrape(client)
    with FakeMicrosoft.running() as ms:
        graph = GraphApi(settings_for(ms))
        try:
            ms.graph.fail_next("create", 503)
            graph.create_event(meeting())
            graph.create_event(meeting())
        finally:
            graph.close()
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("desk_graph_api_errors_total", call="create", status="503") == 1
    assert delta("desk_graph_api_request_seconds_count", call="create", outcome="retry") == 1
    assert delta("desk_graph_api_request_seconds_count", call="create", outcome="ok") == 1
    assert delta("desk_graph_api_request_seconds_sum", call="create", outcome="ok") > 0


def test_a_scrape_still_answers_when_the_database_is_down(config):
    app = create_app(config.but(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    try:
        samples = scrape(app.test_client())
    finally:
        app.extensions["services"].close()
    assert value(samples, "desk_database_up") == 0
    assert not any(name == "desk_jobs" for name, _ in samples)

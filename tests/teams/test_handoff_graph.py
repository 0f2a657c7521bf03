"""The Teams handoff through Microsoft Graph (fake Entra ID and Graph on loopback, real msal):
exactly one event per booking with the counsellor invited, one join link, and every failure
ending in a retry or a visible alert."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.teams.graph_api import GraphSettings
from bot.services import Services
from bot.queue.worker import Worker
from models import Booking, OperatorAlert
from tests.conftest import make_jobs_due
from tests.support.chat import TUESDAY_MORNING, Chat, play, tap
from tests.support.fake_microsoft import FakeMicrosoft
from tests.support.processes import wait_for
from tests.support.scripts import BOOKED, join_buttons, pushed

USER = "U" + "a" * 32


@pytest.fixture
def microsoft():
    with FakeMicrosoft.running() as fakes:
        yield fakes


@pytest.fixture
def graph_config(config, microsoft):
    return config.but(graph=GraphSettings(
        tenant_id=microsoft.entra.tenant, client_id=microsoft.entra.client_id,
        client_secret=microsoft.entra.client_secret, organizer=microsoft.organizer,
        authority=microsoft.entra.authority, base_url=microsoft.graph.base_url, read_timeout=2.0))


@pytest.fixture
def desk(graph_config, clock):
    from bot.demo import load_demo_data

    services = Services.create(graph_config, clock=clock)
    load_demo_data(services.db)
    yield services
    services.close()


@pytest.fixture
def chat(desk) -> Chat:
    return Chat(desk, USER, TUESDAY_MORNING)


def run(desk) -> None:
    Worker(desk).run_until_idle()


def booking(desk) -> Booking:
    with desk.db.transaction() as session:
        return session.scalar(select(Booking))


def alerts(desk) -> list[OperatorAlert]:
    with desk.db.transaction() as session:
        return list(session.scalars(select(OperatorAlert).where(OperatorAlert.resolved_at.is_(None))))


def test_a_booking_makes_one_teams_event_with_the_counsellor_invited_and_one_link(chat, desk, microsoft, fake_line):
    play(chat, BOOKED)
    run(desk)
    [event] = microsoft.graph.live_events()
    assert [(a["emailAddress"]["address"], a["type"]) for a in event["attendees"]] == [
        ("aoki.satomi@desk.example.jp", "required")]
    assert event["subject"].startswith("【みらいキャリアポート】オンライン相談 12月2日(水) 10:00")
    b = booking(desk)
    assert (b.teams_status, b.graph_event_id, b.join_url) == ("created", event["id"], event["onlineMeeting"]["joinUrl"])
    assert join_buttons(pushed(fake_line, USER)) == [b.join_url]


def test_the_users_email_is_invited_only_when_the_operator_enables_it(graph_config, clock, microsoft, fake_line):
    from bot.demo import load_demo_data

    services = Services.create(graph_config.but(graph_invite_user=True), clock=clock)
    load_demo_data(services.db)
    try:
        play(Chat(services, USER, TUESDAY_MORNING), BOOKED)
        run(services)
        [event] = microsoft.graph.live_events()
        assert ("Taro@example.jp", "optional") in [(a["emailAddress"]["address"], a["type"])
                                                    for a in event["attendees"]]
    finally:
        services.close()


def test_the_token_is_fetched_once_for_many_graph_calls(chat, desk, microsoft):
    play(chat, BOOKED)
    run(desk)
    play(chat, [(tap("予約の確認・キャンセル"),), (tap("キャンセルする"),), (tap("はい"),)])
    run(desk)
    assert len(microsoft.graph.calls) >= 2
    assert len(microsoft.entra.client_credential_requests()) == 1


def test_a_throttled_create_is_retried_after_retry_after_without_a_second_event(chat, desk, microsoft, fake_line):
    microsoft.graph.fail_next("create", 429)
    play(chat, BOOKED)
    run(desk)
    assert microsoft.graph.live_events() == [] and booking(desk).teams_status == "pending"
    make_jobs_due(desk.db)
    run(desk)
    assert len(microsoft.graph.live_events()) == 1
    assert len(join_buttons(pushed(fake_line, USER))) == 1


def test_a_create_whose_answer_was_lost_is_retried_into_the_same_event(chat, desk, microsoft, fake_line):
    # Graph made the event but the worker never heard back, as when it dies between the Graph call
    # and the LINE push: the retry carries the same transactionId and gets the same event back.
    microsoft.graph.fail_next("create", ("accept_then_stall", 3))
    play(chat, BOOKED)
    run(desk)
    assert booking(desk).join_url is None
    make_jobs_due(desk.db)
    run(desk)
    wait_for(lambda: len(microsoft.graph.calls_to("create")) == 2)  # the stalled call is logged as it ends
    assert len(microsoft.graph.live_events()) == 1
    assert join_buttons(pushed(fake_line, USER)) == [booking(desk).join_url]


def test_a_graph_that_is_down_for_a_while_gets_the_event_later(chat, desk, microsoft, fake_line):
    microsoft.graph.fail_next("create", 503, 504)
    play(chat, BOOKED)
    for _ in range(3):
        run(desk)
        make_jobs_due(desk.db)
    assert len(microsoft.graph.live_events()) == 1 and booking(desk).teams_status == "created"


def test_cancelling_the_booking_cancels_the_teams_event(chat, desk, microsoft):
    play(chat, BOOKED)
    run(desk)
    play(chat, [(tap("予約の確認・キャンセル"),), (tap("キャンセルする"),), (tap("はい"),)])
    run(desk)
    assert microsoft.graph.live_events() == []
    assert booking(desk).teams_status == "cancelled"
    assert len(microsoft.graph.calls_to("cancel")) == 1


def test_a_refused_permission_is_an_operator_alert_naming_it_and_is_not_retried(chat, desk, microsoft, fake_line):
    microsoft.graph.fail_next("create", 403)
    play(chat, BOOKED)
    run(desk)
    make_jobs_due(desk.db)
    run(desk)
    assert len(microsoft.graph.calls_to("create")) == 1
    [alert] = alerts(desk)
    assert "Calendars.ReadWrite" in alert.message and booking(desk).teams_status == "failed"
    assert any("準備に時間がかかっています" in m.get("text", "") for m in pushed(fake_line, USER))


def test_an_event_without_a_teams_link_is_a_failure_and_a_retry_makes_a_proper_one(chat, desk, microsoft, fake_line):
    microsoft.graph.fail_next("create", "no_link")
    play(chat, BOOKED)
    run(desk)
    assert microsoft.graph.live_events() == []  # the link-less event was taken back
    [alert] = alerts(desk)
    assert "Teams" in alert.message and booking(desk).teams_status == "failed"
    assert join_buttons(pushed(fake_line, USER)) == []

    from handlers.handoff import retry_handoff

    with desk.db.transaction() as session:
        retry_handoff(session, session.scalar(select(Booking)))
    run(desk)
    [event] = microsoft.graph.live_events()
    assert booking(desk).join_url == event["onlineMeeting"]["joinUrl"]
    assert join_buttons(pushed(fake_line, USER)) == [event["onlineMeeting"]["joinUrl"]]
    assert alerts(desk) == []


def test_after_the_retry_window_the_handoff_fails_visibly_and_the_user_is_told(graph_config, clock, microsoft, fake_line):
    from bot.demo import load_demo_data

    services = Services.create(graph_config.but(graph_retry_window_minutes=0), clock=clock)
    load_demo_data(services.db)
    try:
        microsoft.graph.fail_next("create", 503)
        play(Chat(services, USER, TUESDAY_MORNING), BOOKED)
        run(services)
        assert booking(services).teams_status == "failed"
        [alert] = alerts(services)
        assert "within 0 minutes" in alert.message
        assert any("お電話" in m.get("text", "") for m in pushed(fake_line, USER))
    finally:
        services.close()


@pytest.mark.slow
def test_a_worker_killed_between_the_graph_call_and_the_line_push_leaves_one_event_and_one_link(
        chat, desk, microsoft, fake_line, database_url, tmp_path):
    import signal

    from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET
    from tests.support.processes import kill_tree, service_env, start_worker

    settings = desk.config.graph
    env = service_env(
        DATABASE_URL=database_url, LINE_CHANNEL_SECRET=CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN,
        LINE_API_BASE_URL=fake_line.url, SECRET_KEY="test", INSTANCE_PATH=str(tmp_path / "instance"),
        PUBLIC_BASE_URL="https://desk.example.jp", WORKER_POLL_SECONDS="0.05", JOB_LEASE_SECONDS="2", GRAPH_TENANT_ID=settings.tenant_id,
        GRAPH_CLIENT_ID=settings.client_id, GRAPH_CLIENT_SECRET=settings.client_secret,
        GRAPH_ORGANIZER=settings.organizer, GRAPH_AUTHORITY=settings.authority, GRAPH_BASE_URL=settings.base_url,
    )
    microsoft.graph.fail_next("create", ("accept_then_stall", 30))
    play(chat, BOOKED)
    first = start_worker(env)
    try:
        wait_for(lambda: microsoft.graph.events, timeout=30)  # Graph made the event; the worker waits on it
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        second = start_worker(env)
        try:
            wait_for(lambda: join_buttons(pushed(fake_line, USER)), timeout=30)
        finally:
            kill_tree(second)
    finally:
        kill_tree(first)
    assert len(microsoft.graph.live_events()) == 1
    assert join_buttons(pushed(fake_line, USER)) == [booking(desk).join_url]


def test_no_more_than_four_graph_calls_are_in_flight_for_the_mailbox(desk, microsoft):
    import threading
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from handlers.handoff import enqueue_create
    from models import Counsellor, LineUser

    start = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    with desk.db.transaction() as session:
        counsellor = session.scalar(select(Counsellor))
        for n in range(10):
            user = LineUser(line_user_id=f"U{n:0>32}")
            session.add(user)
            session.flush()
            booking = Booking(reference=f"LANE-{n:04}", user_id=user.id, counsellor_id=counsellor.id, topic="その他",
                              starts_at=start + timedelta(minutes=30 * n), ends_at=start + timedelta(minutes=30 * n + 30),
                              status="confirmed", confirmed_at=TUESDAY_MORNING, name="テスト", email="t@example.jp")
            session.add(booking)
            session.flush()
            enqueue_create(session, booking)
    microsoft.graph.latency = 0.3
    worker = Worker(Services.create(desk.config.but(worker_threads=10, worker_poll_seconds=0.02), clock=desk.clock))
    running = threading.Thread(target=worker.run)
    running.start()
    try:
        wait_for(lambda: len(microsoft.graph.live_events()) == 10, timeout=30)
    finally:
        worker.stop()
        running.join(10)
        worker.services.close()
    assert microsoft.graph.max_in_flight == 4


def test_a_changed_time_patches_the_teams_event(chat, desk, microsoft):
    from datetime import timedelta

    from handlers.handoff import enqueue_update

    play(chat, BOOKED)
    run(desk)
    with desk.db.transaction() as session:
        b = session.scalar(select(Booking))
        b.starts_at, b.ends_at = b.starts_at + timedelta(hours=3), b.ends_at + timedelta(hours=3)
        enqueue_update(session, b)
    run(desk)
    [event] = microsoft.graph.live_events()
    assert event["start"]["dateTime"].startswith("2026-12-02T13:00")
    assert len(microsoft.graph.calls_to("patch")) == 1

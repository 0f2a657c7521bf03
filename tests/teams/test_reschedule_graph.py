"""A booking moved to another time moves its Teams event: one PATCH of the same event (the
counsellor sees the new time in the invite), never a cancel and a new event; a retried or repeated
PATCH leaves the event the same; a moved booking whose event was not made yet is made at the new time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.demo import load_demo_data
from bot.queue.worker import Worker
from bot.services import Services
from bot.teams.graph_api import GraphSettings
from handlers import handoff
from models import Booking, Counsellor
from tests.conftest import make_jobs_due
from tests.support.chat import TUESDAY_MORNING, Chat, play, says, tap
from tests.support.fake_microsoft import FakeMicrosoft
from tests.support.scripts import BOOKED, join_buttons, pushed

TOKYO = ZoneInfo("Asia/Tokyo")
USER = "U" + "a" * 32


@pytest.fixture
def microsoft():
    with FakeMicrosoft.running() as fakes:
        yield fakes


@pytest.fixture
def desk(config, clock, microsoft):
    services = Services.create(config.but(graph=GraphSettings(
        tenant_id=microsoft.entra.tenant, client_id=microsoft.entra.client_id,
        client_secret=microsoft.entra.client_secret, organizer=microsoft.organizer,
        authority=microsoft.entra.authority, base_url=microsoft.graph.base_url, read_timeout=2.0)), clock=clock)
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
MOVE = [(tap("予約の確認・キャンセル"),), (tap("日時を変更"),), (tap("12/3(木)"),), (tap("14:00"),),
        (tap("はい"), says("日時を変更しました"))]


def test_moving_a_booking_patches_the_same_event_to_the_new_time_and_never_cancels_it(
        chat, desk, microsoft, fake_line):
    play(chat, BOOKED)
    run(desk)
    [event] = microsoft.graph.live_events()
    play(chat, MOVE)
    run(desk)
    [moved] = microsoft.graph.live_events()
    assert moved["id"] == event["id"]
    assert moved["onlineMeeting"]["joinUrl"] == event["onlineMeeting"]["joinUrl"]
    assert moved["start"]["dateTime"].startswith("2026-12-03T14:00")
    assert "12月3日(木) 14:00" in moved["subject"] and "12月3日(木) 14:00" in moved["body"]["content"]
    assert [c.method for c in microsoft.graph.calls_to("patch")] == ["PATCH"]
    assert microsoft.graph.calls_to("cancel") == [] and len(microsoft.graph.calls_to("create")) == 1
    assert len(join_buttons(pushed(fake_line, USER))) == 1  # the same link: not sent again


def test_a_patch_run_twice_leaves_the_event_as_the_first_left_it(chat, desk, microsoft):
    play(chat, BOOKED)
    run(desk)
    play(chat, MOVE)
    run(desk)
    [once] = microsoft.graph.live_events()
    handoff.update_meeting(desk, {"booking_id": booking(desk).id})
    [twice] = microsoft.graph.live_events()
    assert {k: once[k] for k in ("id", "subject", "start", "end", "attendees")} == \
        {k: twice[k] for k in ("id", "subject", "start", "end", "attendees")}


def test_a_throttled_patch_is_retried_and_the_event_ends_at_the_new_time(chat, desk, microsoft):
    play(chat, BOOKED)
    run(desk)
    microsoft.graph.fail_next("patch", 429)
    play(chat, MOVE)
    run(desk)
    assert microsoft.graph.live_events()[0]["start"]["dateTime"].startswith("2026-12-02T10:00")
    make_jobs_due(desk.db)
    run(desk)
    assert microsoft.graph.live_events()[0]["start"]["dateTime"].startswith("2026-12-03T14:00")


def test_a_move_to_another_counsellor_invites_them_on_the_same_event(chat, desk, microsoft):
    play(chat, BOOKED)
    run(desk)
    first = booking(desk).counsellor_id
    with desk.db.transaction() as session:
        session.execute(update(Counsellor).where(Counsellor.id == first).values(days_off=["2026-12-03"]))
    play(chat, MOVE)
    run(desk)
    moved = booking(desk)
    assert moved.counsellor_id != first
    with desk.db.transaction() as session:
        email = session.get(Counsellor, moved.counsellor_id).email
    [event] = microsoft.graph.live_events()
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == [email]


def test_a_booking_moved_before_its_event_was_made_gets_one_event_at_the_new_time(chat, desk, microsoft):
    play(chat, BOOKED + MOVE)  # the create job has not run yet
    run(desk)
    [event] = microsoft.graph.live_events()
    assert event["start"]["dateTime"].startswith("2026-12-03T14:00")
    assert len(microsoft.graph.calls_to("create")) == 1
    with desk.db.transaction() as session:
        assert session.scalar(select(Booking.starts_at)) == datetime(2026, 12, 3, 14, 0, tzinfo=TOKYO)

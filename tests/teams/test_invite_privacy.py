"""The Teams invite carries no personal data unless the desk chooses it: Exchange keeps an invite's
text after the desk erases the user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.demo import load_demo_data
from bot.queue.worker import Worker
from bot.services import Services
from bot.teams.graph_api import GraphSettings
from models import Booking
from tests.support.chat import Chat, play
from tests.support.fake_microsoft import FakeMicrosoft
from tests.support.scripts import BOOKED

USER = "U" + "6" * 32
PERSONAL = ("山田 太郎", "ヤマダ タロウ", "転職を考えています", "Taro@example.jp", "090")


@pytest.fixture
def microsoft() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft.running() as fakes:
        yield fakes


def book(config, clock, microsoft, **changes) -> tuple[dict, Booking]:
    services = Services.create(config.but(graph=GraphSettings(
        tenant_id=microsoft.entra.tenant, client_id=microsoft.entra.client_id,
        client_secret=microsoft.entra.client_secret, organizer=microsoft.organizer,
        authority=microsoft.entra.authority, base_url=microsoft.graph.base_url, read_timeout=2.0), **changes),
        clock=clock)
    try:
        load_demo_data(services.db)
        play(Chat(services, USER), BOOKED)
        Worker(services).run_until_idle()
        [event] = microsoft.graph.live_events()
        with services.db.transaction() as session:
            booking = session.query(Booking).one()
    finally:
        services.close()
    return event, booking


def test_the_invite_holds_the_time_topic_reference_and_a_console_link_and_nothing_personal(config, clock, microsoft):
    event, booking = book(config, clock, microsoft)
    text = event["subject"] + event["body"]["content"]
    assert booking.reference in text and "キャリア・転職" in text
    assert f"{config.public_base_url}/console/bookings/{booking.reference}" in event["body"]["content"]
    assert [p for p in PERSONAL if p in text] == []


def test_a_desk_that_needs_the_details_in_the_invite_can_restore_them(config, clock, microsoft):
    event, _ = book(config, clock, microsoft, graph_invite_details=True)
    assert "山田 太郎" in event["body"]["content"] and "転職を考えています" in event["body"]["content"]

"""Readers and a LINE booking for tests of what the desk does to bookings (console, commands)."""

from __future__ import annotations

from sqlalchemy import select

from models import Booking
from tests.support.chat import play, says, tap
from tests.support.console import db, text_of
from tests.support.scripts import DETAILS, UP_TO_NAME


def book_through_line(chat, worker=None) -> Booking:
    """A real booking made through the conversation: 2 December 10:00, キャリア・転職."""
    play(chat, UP_TO_NAME + DETAILS + [(tap("確定"), says("ご予約が確定しました"))])
    if worker is not None:
        worker.run_until_idle()
    with chat.services.db.transaction() as session:
        return session.scalar(select(Booking).where(Booking.status == "confirmed"))


def booking_row(app, reference: str) -> Booking:
    with db(app).transaction() as session:
        return session.scalar(select(Booking).where(Booking.reference == reference))


def follow(client, response) -> str:
    assert response.status_code in (302, 303), text_of(response)
    return text_of(client.get(response.location))


def line_texts(fake_line, user_id: str) -> list[str]:
    return [d.message.get("text") or d.message.get("altText") or "" for d in fake_line.store.messages_to(user_id)]

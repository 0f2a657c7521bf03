"""Readers and a LINE booking for tests of what the desk does to bookings (console, commands)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from models import Booking, Job
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


def deliver_all(worker, rounds: int = 3) -> None:
    """Run the jobs, and again those a slow answer from the fake LINE sent back to wait for a retry
    (a loaded machine can take longer than the tests' 1 s read timeout): what the user is sent, in the end."""
    database = worker.services.db
    for _ in range(rounds):
        worker.run_until_idle()
        with database.transaction() as session:
            if not session.scalar(select(func.count()).select_from(Job).where(Job.status == "pending")):
                return
            session.execute(update(Job).where(Job.status == "pending").values(run_at=database.clock()))


def booking_row(app, reference: str) -> Booking:
    with db(app).transaction() as session:
        return session.scalar(select(Booking).where(Booking.reference == reference))


def follow(client, response) -> str:
    assert response.status_code in (302, 303), text_of(response)
    return text_of(client.get(response.location))


def line_texts(fake_line, user_id: str) -> list[str]:
    return [d.message.get("text") or d.message.get("altText") or "" for d in fake_line.store.messages_to(user_id)]

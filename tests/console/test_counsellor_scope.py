"""A counsellor sees their own booking, its user and the conversation around it, and only for a
bounded time after the session; what the user said for an earlier booking with someone else stays
out of their view."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import Counsellor, LineUser, MessageLog
from tests.support.chat import play, says, tap
from tests.support.console import (
    create_counsellor_operator,
    create_operator,
    db,
    signed_in_client,
)
from tests.support.scripts import DETAILS, UP_TO_NAME


def book(chat):
    play(chat, UP_TO_NAME + DETAILS + [(tap("確定"), says("ご予約が確定しました"))])
    from models import Booking

    with chat.services.db.transaction() as session:
        booking = session.scalar(select(Booking).where(Booking.status == "confirmed"))
        email = session.get(Counsellor, booking.counsellor_id).email
        user_id = session.scalar(select(LineUser.id).where(LineUser.line_user_id == chat.user_id))
    return booking, email, user_id


def say(app, user_id: int, text: str, at) -> None:
    with db(app).transaction() as session:
        session.add(MessageLog(user_id=user_id, direction="in", kind="text", text=text, payload={}, created_at=at))


def test_the_counsellor_loses_sight_of_the_booking_its_user_and_the_conversation_after_the_access_period(
        app, chat, clock):
    booking, email, user_id = book(chat)
    say(app, user_id, "転職の相談です", clock())
    create_operator(app)
    create_counsellor_operator(app, email)
    days = app.extensions["config"].counsellor_access_days
    pages = (f"/console/bookings/{booking.reference}", f"/console/conversations/{user_id}",
             f"/console/conversations/{user_id}/messages?after=0")

    counsellor = signed_in_client(app, email)
    assert all(counsellor.get(page).status_code == 200 for page in pages)
    assert "転職の相談です" in counsellor.get(pages[1]).get_data(as_text=True)

    clock.set(booking.ends_at + timedelta(days=days, minutes=1))
    counsellor = signed_in_client(app, email)
    assert [counsellor.get(page).status_code for page in pages] == [404, 404, 404]
    assert booking.reference not in counsellor.get("/console/bookings").get_data(as_text=True)
    admin = signed_in_client(app)
    assert all(admin.get(page).status_code == 200 for page in pages)


def test_what_a_user_said_for_an_earlier_booking_with_someone_else_stays_out_of_the_counsellors_view(
        app, chat, clock):
    booking, email, user_id = book(chat)
    say(app, user_id, "前の相談員に話した家計の事情", clock() - timedelta(days=90))
    say(app, user_id, "今回の相談の補足です", clock())
    create_counsellor_operator(app, email)
    counsellor = signed_in_client(app, email)
    page = counsellor.get(f"/console/conversations/{user_id}").get_data(as_text=True)
    polled = counsellor.get(f"/console/conversations/{user_id}/messages?after=0").get_data(as_text=True)
    assert "今回の相談の補足です" in page and "前の相談員に話した家計の事情" not in page + polled

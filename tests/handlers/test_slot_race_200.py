"""Two hundred users going for one counsellor's slot at the same instant, on PostgreSQL.

Each user is a real conversation over the real database desk, one transaction per turn as the
worker runs it (the chat driver), each on its own connection. They are brought to the moment
before the decisive tap one by one, then released together by a barrier. Whatever the order
PostgreSQL lets them through in, exactly one booking of the slot may survive, and everybody else
must be told kindly that the time has just gone, with the conversation still waiting for a choice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.demo import load_demo_data
from bot.services import Services
from models import Booking, Counsellor
from tests.support.chat import TUESDAY_MORNING, Answer, Chat, play, send, tap
from tests.support.scripts import AGREED, DETAILS, UP_TO_NAME

RACERS = 200
TAKEN = "その時間はちょうど埋まりました。別の時間をお選びください。"
HELD = "仮予約しました"
CONFIRMED = "ご予約が確定しました"
SLOT_LOST = "仮予約の期限が過ぎ、その時間はほかの方の予約で埋まりました。日時を選び直してください"
TO_THE_TIMES = AGREED + [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("25"),), (tap("12/2(水)"),)]

# Only PostgreSQL: SQLite serialises every writer, so there would be no race to measure.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def desk(config, clock):
    """The desk with one connection per racer, so all of them really are in the database at once
    (the test cluster allows 400 connections), and only 青木 taking sessions: one slot, one seat."""
    services = Services.create(config, pool_size=RACERS + 5, clock=clock)
    load_demo_data(services.db)
    with services.db.transaction() as session:
        keep = session.scalar(select(Counsellor.id).where(Counsellor.email.like("aoki%")))
        session.execute(update(Counsellor).where(Counsellor.id != keep).values(active=False))
    yield services
    services.close()


def users(services: Services, count: int) -> list[Chat]:
    return [Chat(services, f"U{n:0>32x}", TUESDAY_MORNING) for n in range(count)]


def release_at_once(services: Services, turns: list[Callable[[], Answer]]
                    ) -> tuple[dict[int, Answer], dict[int, BaseException]]:
    """Runs every turn on its own thread, all let go by one barrier; returns answers and errors."""
    # Open every connection first, so the race is between the turns, not between the logins.
    connections = [services.db.engine.connect() for _ in turns]
    for connection in connections:
        connection.close()

    start = threading.Barrier(len(turns), timeout=120)
    answers: dict[int, Answer] = {}
    errors: dict[int, BaseException] = {}

    def run(n: int) -> None:
        try:
            start.wait()
            answers[n] = turns[n]()
        except BaseException as error:  # noqa: BLE001 - every failure is reported by the test
            errors[n] = error

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(len(turns))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not any(thread.is_alive() for thread in threads), "some turns never finished"
    return answers, errors


def live_bookings(services: Services) -> list[Booking]:
    with services.db.transaction() as session:
        return list(session.scalars(select(Booking).where(Booking.status.in_(("held", "confirmed")))))


def test_two_hundred_users_tapping_one_counsellors_time_at_once_give_exactly_one_booking(desk):
    chats = users(desk, RACERS)
    for chat in chats:
        play(chat, TO_THE_TIMES)

    answers, errors = release_at_once(desk, [lambda chat=chat: chat.tap("10:00") for chat in chats])

    assert not errors, f"{len(errors)} turns failed, e.g. {next(iter(errors.values()))!r}"
    winners = [n for n, a in answers.items() if HELD in a.text]
    told_taken = [n for n, a in answers.items() if TAKEN in a.text]
    assert len(winners) == 1, f"{len(winners)} users were told the slot is theirs"
    assert len(told_taken) == RACERS - 1
    # The ones who lost are still being asked for a time, not thrown out of the booking.
    assert all((answers[n].flow, answers[n].step) == ("booking", "time") for n in told_taken)
    live = live_bookings(desk)
    assert len(live) == 1 and live[0].status == "held"
    assert live[0].user_id == chats[winners[0]].state().user_id


def test_a_user_confirming_a_lapsed_hold_while_199_others_tap_that_time_leaves_exactly_one_booking(desk):
    """The owner's 15 minutes ran out while typing the details; as they press 確定, everybody else
    taps the time that has just become free. Either the owner keeps it and all others are told it
    is taken, or one other user gets it and the owner is asked to choose again."""
    chats = users(desk, RACERS)
    owner, others = chats[0], chats[1:]
    play(owner, UP_TO_NAME + DETAILS)
    desk.clock.set(TUESDAY_MORNING + timedelta(minutes=16))
    for chat in others:  # they see the times after the owner's hold lapsed: 10:00 is offered again
        play(chat, TO_THE_TIMES)

    answers, errors = release_at_once(desk, [lambda: owner.tap("確定")] + [lambda chat=chat: chat.tap("10:00")
                                                                    for chat in others])

    assert not errors, f"{len(errors)} turns failed, e.g. {next(iter(errors.values()))!r}"
    owner_kept_it = CONFIRMED in answers[0].text
    if not owner_kept_it:
        assert SLOT_LOST in answers[0].text, answers[0].text
        assert (answers[0].flow, answers[0].step) == ("booking", "date")
    winners = [n for n in range(1, RACERS) if HELD in answers[n].text]
    told_taken = [n for n in range(1, RACERS) if TAKEN in answers[n].text]
    assert len(winners) == (0 if owner_kept_it else 1)
    assert len(told_taken) == RACERS - 1 - len(winners)
    live = live_bookings(desk)
    assert len(live) == 1
    assert live[0].status == ("confirmed" if owner_kept_it else "held")

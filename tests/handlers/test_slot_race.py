"""Users tapping the same time at the same moment: exactly one gets it, the others are told kindly."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from bot.demo import load_demo_data
from models import Booking, Counsellor
from tests.support.chat import TUESDAY_MORNING, Chat, play, send, tap
from tests.support.scripts import AGREED


@pytest.mark.parametrize("racers", [2, 8])
def test_only_one_of_several_users_tapping_one_slot_at_once_gets_it(services, racers):
    load_demo_data(services.db)
    with services.db.transaction() as session:
        keep = session.scalar(select(Counsellor.id).where(Counsellor.email.like("aoki%")))
        session.execute(update(Counsellor).where(Counsellor.id != keep).values(active=False))
    chats = [Chat(services, f"U{n:0>32}", TUESDAY_MORNING) for n in range(racers)]
    for chat in chats:
        play(chat, AGREED + [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("25"),), (tap("12/2(水)"),)])

    start = threading.Barrier(racers)
    answers: dict[int, str] = {}

    def race(n: int) -> None:
        start.wait()
        answers[n] = chat_tap(chats[n])

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    winners = [n for n, text in answers.items() if "仮予約しました" in text]
    losers = [n for n, text in answers.items() if "ちょうど埋まりました" in text]
    assert len(winners) == 1 and len(losers) == racers - 1
    with services.db.transaction() as session:
        live = session.scalars(select(Booking).where(Booking.status.in_(("held", "confirmed")))).all()
        assert len(live) == 1


def chat_tap(chat: Chat) -> str:
    return chat.tap("10:00").text

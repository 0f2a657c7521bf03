"""A slow LINE does not stall turns: a worker waits on LINE on sending threads of its own, while
its other threads run the next users' turns."""

from __future__ import annotations

import threading
from typing import Callable, Iterator

import pytest
from sqlalchemy import func, select

from bot.queue.worker import Worker
from models import WebhookEvent
from tests.support.fake_line import REPLY
from tests.support.processes import wait_for

USERS = [f"U{n:032x}" for n in range(1, 7)]
MENU_ANSWER = ["ご用件をお選びください。"]


@pytest.fixture
def config(config):
    # LINE answers here only when the test lets it; the client waits that long.
    return config.but(line_read_timeout=20.0, worker_threads=2, worker_send_threads=8)


@pytest.fixture
def start(services) -> Iterator[Callable[[], None]]:
    """Starts a worker running as `python -m bot.queue.worker` runs, in this process."""
    started: list[tuple[Worker, threading.Thread]] = []

    def start_worker() -> None:
        worker = Worker(services)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        started.append((worker, thread))

    yield start_worker
    for worker, thread in started:
        worker.stop()
        thread.join(30)


def turns_done(db) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(WebhookEvent).where(WebhookEvent.processed_at.is_not(None)))


def test_while_line_holds_every_reply_the_worker_still_runs_every_users_turn(line, fake_line, services, start):
    start()
    answer = fake_line.hold(REPLY)
    try:
        for user in USERS:
            assert line.post(line.text(user, "メニュー")).status_code == 200
        # Two threads run turns: had they waited on LINE themselves, two turns would have run, not six.
        wait_for(lambda: turns_done(services.db) == 6 and fake_line.arrivals.count(REPLY) == 6, timeout=15)
        assert fake_line.calls_to(REPLY) == []  # LINE has answered none of them yet
    finally:
        answer.set()
    wait_for(lambda: all(line.received(user) for user in USERS), timeout=15)
    assert all(line.received(user) == MENU_ANSWER for user in USERS)
    assert {d.via for user in USERS for d in fake_line.store.messages_to(user)} == {"reply"}


def test_with_every_sending_thread_waiting_a_turn_sends_its_own_answer(line, fake_line, services, start):
    services.config = services.config.but(worker_send_threads=1)
    start()
    answer = fake_line.hold(REPLY)
    try:
        for user in USERS[:3]:
            assert line.post(line.text(user, "メニュー")).status_code == 200
        # One reply on the sending thread, the other two on the two turn threads: nothing queues
        # for a sending thread while its lease runs, and nothing is dropped.
        wait_for(lambda: fake_line.arrivals.count(REPLY) == 3, timeout=15)
    finally:
        answer.set()
    wait_for(lambda: all(line.received(user) for user in USERS[:3]), timeout=15)
    assert all(line.received(user) == MENU_ANSWER for user in USERS[:3])
    assert len(fake_line.calls_to(REPLY)) == 3


def test_one_users_answers_reach_them_in_the_order_they_wrote_while_line_is_slow(line, fake_line, services, start):
    start()
    said = ["ヘルプ", "メニュー", "よくある質問", "メニュー", "ヘルプ"]
    starts = {"ヘルプ": "メニューからご用件", "よくある質問": "よくある質問", "メニュー": "ご用件をお選び"}
    answer = fake_line.hold(REPLY)
    try:
        for text in said:
            assert line.post(line.text(USERS[0], text)).status_code == 200
        # Every turn runs while the first answer waits on LINE; the later answers wait their turn.
        wait_for(lambda: turns_done(services.db) == len(said), timeout=15)
    finally:
        answer.set()
    wait_for(lambda: len(line.received(USERS[0])) == len(said), timeout=15)
    assert all(got.startswith(starts[text]) for text, got in zip(said, line.received(USERS[0]), strict=True))

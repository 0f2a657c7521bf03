"""On SQLite, with one writer at a time, the webhook's store gets the write lock the moment it is
free, and before the workers' transactions waiting for it (models/sqlite.py)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text

from models import WebhookEvent

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

USER = "U5555555555555555555555555555555c"


def worker_transaction(db, *, hold: float = 0.0, saw: list | None = None, committed: list | None = None) -> None:
    """A write transaction of a worker: it holds the lock from its first statement to its commit.
    `saw`: how many events were stored when it began; `committed`: when it ended."""
    with db.transaction() as session:
        session.execute(text("UPDATE jobs SET attempts = attempts"))
        if saw is not None:
            saw.append(session.scalar(select(func.count()).select_from(WebhookEvent)))
        time.sleep(hold)
    if committed is not None:
        committed.append(time.monotonic())


def started(target, *args, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, kwargs=kwargs)
    thread.start()
    return thread


def test_a_webhook_waiting_for_the_write_lock_is_answered_as_soon_as_the_lock_is_free(line, services):
    committed: list[float] = []
    holder = started(worker_transaction, services.db, hold=0.3, committed=committed)
    time.sleep(0.02)
    assert line.post(line.text(USER, "こんにちは")).status_code == 200
    answered = time.monotonic()
    holder.join(10)
    # SQLite's own busy handler would have slept on for up to 100 ms after the lock was free.
    assert answered - committed[0] < 0.03


def test_a_webhook_goes_before_worker_transactions_that_were_already_waiting(line, services):
    saw: list[int] = []
    threads = [started(worker_transaction, services.db, hold=0.3)]
    for _ in range(2):
        time.sleep(0.05)
        threads.append(started(worker_transaction, services.db, saw=saw))
    time.sleep(0.05)
    assert line.post(line.text(USER, "予約したい")).status_code == 200
    for thread in threads:
        thread.join(10)
    assert saw == [1, 1]  # the webhook's event was stored when each began

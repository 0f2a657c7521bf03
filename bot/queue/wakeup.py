"""Waking idle workers when the webhook stores events (PostgreSQL's LISTEN/NOTIFY).

A worker with nothing to do waits `WORKER_POLL_SECONDS` between claim queries. Polled alone, a
user's message waited for the next poll: half the steady-load turn latency went there. Now the
webhook's store statement also notifies `CHANNEL`, and each worker process keeps one connection
listening on it that ends the wait at once. A notification is only a hint, never the only way a
job is found: one lost with a dropped connection, or a job queued without one (a Graph call, a
retry), is still claimed at the next poll. SQLite has no notifications, so there workers poll.
"""

from __future__ import annotations

import logging
import threading

from models.database import Database

log = logging.getLogger(__name__)

CHANNEL = "desk_jobs"
# The webhook's store statement's last clause (bot/line/ingest.py): one notification per statement
# (bodies that arrive together share one); PostgreSQL folds repeats within a transaction, so the
# number of events does not matter.
NOTIFY_SQL = f"pg_notify('{CHANNEL}', '')"


class Wakeup:
    """An event the dispatcher waits on between polls; set by notifications where there are any."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def notified(self) -> bool:
        """True where stored events end the wait (PostgreSQL, listening or trying to)."""
        return self._thread is not None

    def clear(self) -> None:
        self._event.clear()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def listen(self, db: Database) -> None:
        """PostgreSQL: start the listening thread (a no-op elsewhere)."""
        if db.dialect != "postgresql" or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._listen, args=(db,), name="wakeup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._event.set()

    def _listen(self, db: Database) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            try:
                with db.listening_connection() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    delay = 1.0
                    self._event.set()  # anything stored while not listening is claimable now
                    while not self._stopping.is_set():
                        for _ in connection.notifies(timeout=1.0):
                            self._event.set()
            except Exception as e:  # noqa: BLE001 (the polls go on meanwhile; try again)
                log.warning("listening for new jobs failed (%s); polling until it is back", type(e).__name__)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)

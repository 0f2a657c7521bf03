"""Waking idle workers when the webhook stores events (PostgreSQL's LISTEN/NOTIFY).

A worker with nothing to do waits `WORKER_POLL_SECONDS` between claim queries. Polled alone, a
user's message waited for the next poll: half the steady-load turn latency went there. Now the
webhook's store statement also notifies `CHANNEL`, and each worker process keeps one connection
listening on it that ends the wait at once. A notification is only a hint, never the only way a
job is found: one lost with a dropped connection, or a job queued without one (a Graph call, a
retry), is still claimed at the next poll. SQLite has no notifications: there the thread watches
the database itself, 100 cheap looks a second (`_watch_sqlite`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from models.database import Database

log = logging.getLogger(__name__)

CHANNEL = "desk_jobs"
# The webhook's store statement's last clause (bot/line/ingest.py): one notification per statement
# (bodies that arrive together share one); PostgreSQL folds repeats within a transaction, so the
# number of events does not matter.
NOTIFY_SQL = f"pg_notify('{CHANNEL}', '')"

# SQLite: how often the watching thread looks. A turn waited for the next poll (WORKER_POLL_SECONDS,
# 0.2 s): most of the turn latency at 50 turns/s on SQLite.
SQLITE_WATCH_SECONDS = 0.01
# The newest waiting job: the last entry of ix_jobs_status for 'pending'.
_NEWEST_PENDING = "SELECT max(id) FROM jobs WHERE status = 'pending'"


class Wakeup:
    """An event the dispatcher waits on between polls; set by notifications where there are any."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def notified(self) -> bool:
        """True where stored jobs end the wait (PostgreSQL's notifications or SQLite's watch, running or trying to)."""
        return self._thread is not None

    def clear(self) -> None:
        self._event.clear()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def listen(self, db: Database) -> None:
        """Start the thread that ends the wait when the webhook stores events."""
        if self._thread is not None:
            return
        target = self._listen if db.dialect == "postgresql" else self._watch_sqlite
        self._thread = threading.Thread(target=target, args=(db,), name="wakeup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._event.set()

    def _watch_sqlite(self, db: Database) -> None:
        """Set the event when a new job is waiting. `PRAGMA data_version` changes when any other
        connection commits and costs no read of a table; only then is the newest job looked up.
        Reads on a connection of its own, outside the service's write transactions."""
        try:
            connection = sqlite3.connect(db.engine.url.database, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            log.warning("cannot watch the database for new jobs (%s); polling only", type(e).__name__)
            return
        seen_version = newest = None
        try:
            while not self._stopping.wait(SQLITE_WATCH_SECONDS):
                try:
                    version = connection.execute("PRAGMA data_version").fetchone()[0]
                    if version == seen_version:
                        continue
                    seen_version = version
                    found = connection.execute(_NEWEST_PENDING).fetchone()[0]
                except sqlite3.Error:
                    continue  # busy or briefly unreadable: the polls go on meanwhile
                if found is not None and (newest is None or found > newest):
                    self._event.set()
                newest = max(filter(None, (found, newest)), default=None)
        finally:
            connection.close()

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

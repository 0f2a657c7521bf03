"""SQLite's connection settings, and its one writer at a time handed over at once.

SQLite lets one transaction write at a time, across all processes; every transaction here takes
that lock up front (BEGIN IMMEDIATE), so two workers can never both read a job as free and both
claim it, and none dies upgrading a read lock. A connection that finds the lock taken sleeps in
SQLite's busy handler and retries after 1, 2, 5, 10 … 100 ms: under load a webhook's store slept
on long after the lock was free, while writers that retried at the right moment went first again
and again (issue 20). So writers also queue in the kernel: each connection flock()s a file beside
the database around its transaction, and the kernel wakes a waiter the moment the holder lets go.
SQLite's own lock still keeps transactions apart; the file only decides who tries next (a process
without it, the sqlite3 shell, only waits the old way). A process that dies lets go of its flocks.

The webhook's stores go first (`priority`): a worker's turn holds the lock for milliseconds of
Python, and LINE gives up on an answer after 2 s while a turn can wait. A priority writer holds a
second file, shared, from before it waits until it is done. Any other writer holds a third file
exclusively from before it waits until it is done, so the rest queue for that file, not for the
lock, and it goes for the lock only through the second file, exclusively: once no priority writer
is waiting. A priority writer so waits for the transaction under way only.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading

# SQLite's own busy timeout, for a writer outside this queue (the sqlite3 shell, a backup).
BUSY_SECONDS = 30.0


class _LockFiles:
    """One connection's own descriptors of the files: flocks belong to an open file, so each
    connection's are its own, and they go when the connection is closed or collected."""

    SUFFIXES = ("writer", "priority", "door")

    def __init__(self, database: str) -> None:
        self.pid = os.getpid()
        self.fds: list[int] = []
        for suffix in self.SUFFIXES:
            self.fds.append(os.open(f"{database}-{suffix}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o660))

    def take(self, priority: bool) -> None:
        writer, waiting, door = self.fds
        if priority:
            fcntl.flock(waiting, fcntl.LOCK_SH)
        else:
            fcntl.flock(door, fcntl.LOCK_EX)
            fcntl.flock(waiting, fcntl.LOCK_EX)
        try:
            fcntl.flock(writer, fcntl.LOCK_EX)
        except BaseException:
            self.let_go()
            raise
        if not priority:
            fcntl.flock(waiting, fcntl.LOCK_UN)

    def let_go(self) -> None:
        for fd in self.fds:  # the writer's file first
            fcntl.flock(fd, fcntl.LOCK_UN)

    def __del__(self) -> None:
        for fd in self.fds:
            os.close(fd)


# The files each thread holds the write lock of: a thread that opens a second write transaction
# (another connection) must not queue behind itself; SQLite's busy timeout decides, as it always did.
_held = threading.local()


class Connection(sqlite3.Connection):
    """A pysqlite connection (`factory=`) whose write transactions queue for the lock."""

    database: str | None = None
    _files: _LockFiles | None = None
    _holding: set[str] | None = None  # while holding: the set of the thread that took it

    def settle(self, database: str | None) -> None:
        """Settings for every connection, web and worker alike (SQLAlchemy's connect event).
        `database`: the file's path; None for one without a file of its own (in memory)."""
        self.database = os.path.realpath(database) if database and database != ":memory:" else None
        self.isolation_level = None  # transactions are begun here, never implicitly by pysqlite
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={int(BUSY_SECONDS * 1000)}",
                       "foreign_keys=ON"):
            self.execute(f"PRAGMA {pragma}")

    def begin_writing(self, *, priority: bool = False) -> None:
        self._queue(priority)
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._let_go()
            raise

    def _queue(self, priority: bool) -> None:
        held = getattr(_held, "files", None)
        if self.database is None or (held is not None and self.database in held):
            return
        if self._files is None or self._files.pid != os.getpid():  # a forked child opens its own
            try:
                self._files = _LockFiles(self.database)
            except OSError:
                return  # a folder we cannot write to: SQLite's busy handler alone
        self._files.take(priority)
        if held is None:
            held = _held.files = set()
        held.add(self.database)
        self._holding = held

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._let_go()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._let_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._let_go()

    def _let_go(self) -> None:
        if self._holding is not None:
            self._holding.discard(self.database)
            self._holding = None
            self._files.let_go()

"""Engine and session set-up, the same for the web app, the worker and the tests."""

from __future__ import annotations

from contextlib import contextmanager
import sqlite3
import threading
import time
from datetime import datetime
from typing import Any, Callable, Iterator

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from models import sqlite
from models.base import CLOCK


def normalise_url(url: str) -> str:
    """Accept the `postgres://` and `postgresql://` URLs that PaaS providers hand out."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, pool_size: int = 5, **options: Any) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": sqlite.BUSY_SECONDS, "check_same_thread": False,
                                                  "factory": sqlite.Connection}, hide_parameters=True)
        _serialise_sqlite_writers(engine)
        return engine
    # hide_parameters: user text must never reach a log through an exception message.
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, hide_parameters=True,
                           **options)
    _ping_when_idle(engine)
    return engine


# A connection back in use within this many seconds is taken to be alive.
IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection before use only when it has sat idle: a database restart or a
    dropped idle connection is caught before a request sees it, while a busy process does not pay
    a round trip per transaction (pool_pre_ping's SELECT 1 was a fifth of the webhook's time).
    A connection that breaks while busy is reported by its transaction, which then invalidates
    the pool, so the next checkout gets a fresh one."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            if not dbapi_connection.autocommit:
                dbapi_connection.rollback()
        except Exception as e:
            # The pool discards this connection and tries another (or a new one).
            raise exc.DisconnectionError("pooled connection is dead") from e


def _serialise_sqlite_writers(engine: Engine) -> None:
    # Every transaction takes the write lock up front, queued (models/sqlite.py says why).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.settle(engine.url.database)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        try:
            connection.connection.dbapi_connection.begin_writing()
        except sqlite3.Error as e:  # as SQLAlchemy reports any other database error
            raise exc.OperationalError("BEGIN IMMEDIATE", None, e) from e


# How the job queue's claim is planned on PostgreSQL, for all of a connection from `Database.queue()`
# (bot/queue/jobs.py says why). The plan may be generic: psycopg prepares a statement after five
# runs, and once the statements named the live statuses in their text (so a generic plan can use
# the partial indexes) the generic claim took 0.15 ms against 0.65 ms planned afresh for each
# claim's values (pg_stat_statements, `scripts/worker_cpu.py --statements`).
_QUEUE_PLANNER_SETTINGS = {"enable_bitmapscan": "off", "enable_sort": "off"}


class Database:
    """`clock` is the service's clock (bot/clock.py): rows are stamped with its time."""

    def __init__(self, url: str, *, clock: Callable[[], datetime], pool_size: int = 5) -> None:
        self.url = normalise_url(url)
        self.clock = clock
        self.engine = make_engine(self.url, pool_size=pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info={CLOCK: clock})
        self._pool_size = pool_size
        self._extra_engines: dict[str, Engine] = {}  # made on first use: autocommit, queue
        self._lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Any]:
        """PostgreSQL: a pooled psycopg connection where each statement commits on its own (no
        BEGIN or COMMIT round trips), for work that is one statement on the busiest path; the driver's
        own cursor, since SQLAlchemy's execution context cost as much as the statement. Its own small
        pool, so connections never switch between modes."""
        engine = self._extra_engine("autocommit", pool_size=self._pool_size, isolation_level="AUTOCOMMIT")
        connection = engine.raw_connection()
        try:
            yield connection
        finally:
            connection.close()  # back to the pool

    @contextmanager
    def sqlite_writing(self, *, priority: bool = False) -> Iterator[sqlite.Connection]:
        """SQLite: a pooled connection's driver in a write transaction, committed on success, for
        the webhook's store (SQLAlchemy's execution context cost as much as its statements).
        `priority`: before the other writers waiting (models/sqlite.py)."""
        pooled = self.engine.raw_connection()
        try:
            connection = pooled.dbapi_connection
            connection.begin_writing(priority=priority)
            try:
                yield connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        finally:
            pooled.close()  # back to the pool

    @contextmanager
    def queue(self) -> Iterator[Connection]:
        """A connection for claiming jobs; only the queue's own statements belong here. PostgreSQL:
        each statement commits on its own (a claim is one statement: no BEGIN or COMMIT round trips)
        and the planner reads the queue as it must (_QUEUE_PLANNER_SETTINGS). SQLite: one transaction,
        committed at the end, holding the write lock like every SQLite writer here."""
        if self.dialect != "postgresql":
            with self.engine.begin() as connection:
                yield connection
            return
        options = " ".join(f"-c {k}={v}" for k, v in _QUEUE_PLANNER_SETTINGS.items())
        engine = self._extra_engine("queue", pool_size=1, isolation_level="AUTOCOMMIT",
                                    connect_args={"options": options})
        with engine.connect() as connection:
            yield connection

    def _extra_engine(self, name: str, **options: Any) -> Engine:
        """An engine of its own for one kind of connection, made once, so pooled connections never
        switch between modes."""
        engine = self._extra_engines.get(name)  # no lock on the webhook's path once made
        if engine is None:
            with self._lock:
                engine = self._extra_engines.get(name) or make_engine(self.url, **options)
                self._extra_engines[name] = engine
        return engine

    @contextmanager
    def listening_connection(self) -> Iterator[Any]:
        """PostgreSQL: a psycopg connection of its own, outside the pools, in autocommit, for
        LISTEN (it holds the connection for as long as it listens)."""
        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        connection = self.engine.dialect.loaded_dbapi.connect(*args, **kwargs, autocommit=True)
        try:
            yield connection
        finally:
            connection.close()

    def dispose(self) -> None:
        self.engine.dispose()
        for engine in self._extra_engines.values():
            engine.dispose()


def now_in(session: Session) -> datetime:
    """The service's time, for code that has only the session (the clock came with it)."""
    return session.info[CLOCK]()

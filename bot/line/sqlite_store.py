"""The webhook's store on SQLite: the events and their jobs in one short write transaction.

Everything is made ready before the write lock is taken (SQLite has one writer at a time, across
every process), and the statements run on the driver's own connection, prepared once: built with
SQLAlchemy per body, compiling the multi-row insert cost more than running it. The transaction
goes before the workers' waiting ones (`priority`, models/sqlite.py): LINE waits for the answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from sqlalchemy.dialects import sqlite

from models import Job, WebhookEvent
from models.database import Database

_EVENTS, _JOBS = WebhookEvent.__table__, Job.__table__
_EVENT_COLUMNS = ("event_key", "event_type", "source_key", "is_redelivery", "received_at", "occurred_at", "body")
_JOB_COLUMNS = ("kind", "queue_key", "payload", "status", "attempts", "max_attempts", "run_at", "created_at")
_INSERT_EVENT = (f"INSERT INTO {_EVENTS.name} ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))}) "
                 "ON CONFLICT (event_key) DO NOTHING RETURNING id")
_INSERT_JOB = f"INSERT INTO {_JOBS.name} ({', '.join(_JOB_COLUMNS)}) VALUES ({', '.join('?' * len(_JOB_COLUMNS))})"


def _encoders(table: Any, columns: tuple[str, ...]) -> list[Callable[[Any], Any]]:
    """The columns' own conversions (UTC times, JSON, booleans), as SQLAlchemy writes them."""
    dialect = sqlite.dialect()
    found = []
    for name in columns:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        found.append(process or (lambda value: value))
    return found


_EVENT_ENCODERS, _JOB_ENCODERS = _encoders(_EVENTS, _EVENT_COLUMNS), _encoders(_JOBS, _JOB_COLUMNS)


def _encoded(encoders: list[Callable[[Any], Any]], values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(encode(value) if value is not None else None for encode, value in zip(encoders, values))


def store_on_sqlite(db: Database, rows: list[dict[str, Any]], now: datetime, *, kind: str, attempts: int) -> int:
    """Insert the events new to the database and a job for each, in the rows' order (each user's
    order of events); returns how many were new."""
    events = [_encoded(_EVENT_ENCODERS, tuple(row[c] for c in _EVENT_COLUMNS)) for row in rows]
    constant = _encoded(_JOB_ENCODERS, (kind, None, None, "pending", 0, attempts, now, now))
    encode_payload = _JOB_ENCODERS[2]
    stored = []
    with db.sqlite_writing(priority=True) as connection:
        cursor = connection.cursor()
        for event, row in zip(events, rows):
            new = cursor.execute(_INSERT_EVENT, event).fetchone()
            if new is not None:
                stored.append((new[0], row["source_key"]))
        cursor.executemany(_INSERT_JOB, [
            (constant[0], f"in:{source}", encode_payload({"event_id": event_id}), *constant[3:])
            for event_id, source in stored])
        cursor.close()
    return len(stored)

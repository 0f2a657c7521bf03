"""Store verified webhook events and queue their processing, in one short transaction.

The webhook answers LINE only after this commits, and never waits on anything else: processing
happens in the workers. An event seen before (a redelivery or a repeated post, recognised by its
`webhookEventId`) is stored once and processed once.
"""

from __future__ import annotations

import hashlib
import logging
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from sqlalchemy import exc

from models import Job, WebhookEvent
from models.database import Database

from bot.line.combining import Combiner
from bot.line.sqlite_store import store_on_sqlite as _store_on_sqlite
from bot.queue.wakeup import NOTIFY_SQL

log = logging.getLogger(__name__)

EVENT_JOB = "line_event"
EVENT_ATTEMPTS = 6


def _event_key(raw: dict[str, Any]) -> str:
    key = raw.get("webhookEventId")
    if isinstance(key, str) and 0 < len(key) <= 80:
        return key
    # Events without an id (older platforms, hand-made tests): the same body means the same event.
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return "sha256:" + digest[:64]


def source_key(raw: dict[str, Any]) -> str:
    source = raw.get("source")
    if isinstance(source, dict):
        for field in ("userId", "groupId", "roomId"):
            value = source.get(field)
            if isinstance(value, str) and value:
                return value[:100]
    return "-"


def _occurred_at(raw: dict[str, Any]) -> datetime | None:
    stamp = raw.get("timestamp")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) and 0 < stamp < 1e14:
        return datetime.fromtimestamp(stamp / 1000, timezone.utc)
    return None


def _is_redelivery(raw: dict[str, Any]) -> bool:
    context = raw.get("deliveryContext")
    return bool(isinstance(context, dict) and context.get("isRedelivery") is True)


def _rows(events: list[Any], now: datetime, max_age: timedelta | None = None) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    too_old = 0
    for raw in events:
        if not isinstance(raw, dict):
            continue
        occurred = _occurred_at(raw)
        if max_age is not None and occurred is not None and occurred < now - max_age:
            # Older than the records that would tell it was already handled: a captured body
            # replayed after the purge. Acknowledged, never processed.
            too_old += 1
            continue
        key = _event_key(raw)
        rows.setdefault(key, {
            "event_key": key,
            "event_type": str(raw.get("type"))[:40],
            "source_key": source_key(raw),
            "is_redelivery": _is_redelivery(raw),
            "received_at": now,
            "occurred_at": occurred,
            "body": raw,
        })
    if too_old:
        log.warning("webhook: %d events older than the retention period ignored", too_old)
    return list(rows.values())


class Inbox:
    """A web process's way to store webhook events: the bodies of requests that arrive while an
    earlier store is running are stored together, in one statement (bot/line/combining.py says why).
    Each request is still answered only once its own events are committed."""

    # LINE sends a body of at most a few events; a web process has a handful of threads.
    MAX_BODIES = 32

    def __init__(self, db: Database, max_age: timedelta | None = None) -> None:
        self._bodies: Combiner[list[Any]] = Combiner(
            lambda bodies: store_events(db, [event for events in bodies for event in events], max_age),
            max_items=self.MAX_BODIES, one_items_fault=_could_be_one_bodys_fault)

    def store(self, events: list[Any]) -> None:
        self._bodies.submit(events)


def _could_be_one_bodys_fault(error: Exception) -> bool:
    # A lost connection, a timeout or a locked database is the database's state, not a body's:
    # storing each body again alone would only make every request wait for it once more.
    return not isinstance(error, (exc.OperationalError, psycopg.OperationalError, sqlite3.OperationalError))


def store_events(db: Database, events: list[Any], max_age: timedelta | None = None) -> int:
    """Insert the new events and one job each, atomically; returns how many were new. Events that
    happened more than `max_age` ago are left out."""
    now = db.clock()
    rows = _rows(events, now, max_age)
    if not rows:
        return 0
    if db.dialect == "postgresql":
        return _store_in_one_statement(db, rows, now)
    return _store_on_sqlite(db, rows, now, kind=EVENT_JOB, attempts=EVENT_ATTEMPTS)


# PostgreSQL: the events and their jobs in one statement, atomic on its own, so it runs in
# autocommit: one round trip per webhook instead of BEGIN, two INSERTs and COMMIT. Written as SQL
# taking the events as one JSON array, so it is one fixed statement whatever their number, which
# psycopg prepares once per connection (built with SQLAlchemy per body, compiling it cost more than
# running it; passed as SQL arrays, escaping their elements did). Ids follow the body's order,
# which is each user's order of events. Storing new jobs also wakes the idle workers (bot/queue/wakeup.py).
_STORE = f"""
WITH incoming AS (
    SELECT e.doc, e.n FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(doc, n)
), new_events AS (
    INSERT INTO {WebhookEvent.__tablename__}
        (event_key, event_type, source_key, is_redelivery, received_at, occurred_at, body)
    SELECT doc->>'event_key', doc->>'event_type', doc->>'source_key', (doc->>'is_redelivery')::boolean,
           %(now)s, (doc->>'occurred_at')::timestamptz, doc->'body'
    FROM incoming ORDER BY n
    ON CONFLICT (event_key) DO NOTHING
    RETURNING id, source_key
), new_jobs AS (
    INSERT INTO {Job.__tablename__} (kind, queue_key, payload, status, attempts, max_attempts, run_at, created_at)
    SELECT %(kind)s, 'in:' || source_key, jsonb_build_object('event_id', id), 'pending', 0, %(attempts)s, %(now)s, %(now)s
    FROM new_events ORDER BY id
    RETURNING id
)
SELECT count(*) FROM (SELECT id, {NOTIFY_SQL} FROM new_jobs) AS woken
"""


def _store_in_one_statement(db: Database, rows: list[dict[str, Any]], now: datetime) -> int:
    # The statement's own `now` is the time received.
    events = [{**row, "received_at": None, "occurred_at": row["occurred_at"] and row["occurred_at"].isoformat()}
              for row in rows]
    params = {"events": json.dumps(events, ensure_ascii=False), "now": now, "kind": EVENT_JOB,
              "attempts": EVENT_ATTEMPTS}
    with db.autocommit() as connection, connection.cursor() as cursor:
        cursor.execute(_STORE, params)
        return cursor.fetchone()[0]

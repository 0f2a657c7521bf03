"""Store verified webhook events and queue their processing, in one short transaction.

The webhook answers LINE only after this commits, and never waits on anything else: processing
happens in the workers. An event seen before (a redelivery or a repeated post, recognised by its
`webhookEventId`) is stored once and processed once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import Job, WebhookEvent, utcnow

EVENT_JOB = "line_event"


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


def store_events(session: Session, events: list[Any]) -> int:
    """Insert the new events and one job each; returns how many were new."""
    now = utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for raw in events:
        if not isinstance(raw, dict):
            continue
        key = _event_key(raw)
        rows.setdefault(key, {
            "event_key": key,
            "event_type": str(raw.get("type"))[:40],
            "source_key": source_key(raw),
            "is_redelivery": _is_redelivery(raw),
            "received_at": now,
            "occurred_at": _occurred_at(raw),
            "body": raw,
        })
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stored = session.execute(
        dialect_insert(WebhookEvent)
        .values(list(rows.values()))
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(WebhookEvent.id, WebhookEvent.source_key)
    ).all()
    # Ids follow the order of the body, which is each user's order of events.
    stored.sort(key=lambda r: r.id)
    if stored:
        session.execute(insert(Job), [
            {
                "kind": EVENT_JOB,
                "queue_key": f"in:{r.source_key}",
                "payload": {"event_id": r.id},
                "status": "pending",
                "attempts": 0,
                "max_attempts": 6,
                "run_at": now,
                "created_at": now,
            }
            for r in stored
        ])
    return len(stored)

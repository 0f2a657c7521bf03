"""Messages owed to a user: logged, stored, and queued for delivery in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import insert
from sqlalchemy.orm import Session

from conversations.messages import Message, summary
from models import LineUser, MessageLog, OutboundMessage
from models.message_log import OUTBOUND
from models.outbound_message import ANSWER, JOIN_LINK, NOTICE, OPERATOR, REMINDER

from bot.queue import jobs
from bot.services import Services

DELIVER_JOB = "line_deliver"


class Received(Protocol):
    """When the event being answered reached us (a webhook_events row), for the reply's deadline."""
    received_at: datetime
    occurred_at: datetime | None


# Plain inserts rather than ORM objects, built once: nothing reads these rows back in the turn, and
# the ORM's flushes and building statements per message were a fair share of a turn's cost. Written
# against the tables, not the mapped classes, which would take them through the ORM's bulk machinery.
_INSERT_OUTBOUND = insert(OutboundMessage.__table__).returning(OutboundMessage.__table__.c.id)
_INSERT_LOG = insert(MessageLog.__table__)


def message_kind(flow: str | None, step: str | None, operator_id: int | None, reply_token: str | None) -> str:
    """What a message is, from the flow and step it is logged with: what the console counts the
    month's pushes by (bot/line/quota.py) and the metrics label sends with."""
    if flow == "teams" and step == "join_link":
        return JOIN_LINK
    if flow == "reminder":
        return REMINDER
    if operator_id is not None:
        return OPERATOR
    return ANSWER if reply_token else NOTICE


def queue_answer(session: Session, user: LineUser, messages: list[Message], flow: str | None, step: str | None,
                 reply_token: str | None, event: Received | None, services: Services, *,
                 operator_id: int | None = None) -> list[int]:
    """Queue messages for delivery, five to a request as LINE allows, in order; returns their ids.
    `operator_id`: the operator who wrote them in a chat (None: the bot)."""
    session.flush()  # what the caller added first (the user's own message in the log) is written first
    kind = message_kind(flow, step, operator_id, reply_token)
    return [_queue(session, user, messages[i:i + 5], flow, step, reply_token if i == 0 else None, event, services,
                   operator_id, kind) for i in range(0, len(messages), 5)]


def _queue(session: Session, user: LineUser, messages: list[Message], flow: str | None, step: str | None,
           reply_token: str | None, event: Received | None, services: Services, operator_id: int | None,
           kind: str) -> int:
    deadline = None
    if reply_token and event is not None:
        started = min(filter(None, (event.received_at, event.occurred_at)))
        deadline = started + timedelta(seconds=services.config.reply_token_ttl_seconds)
    now = services.clock()
    outbound_id = session.scalar(_INSERT_OUTBOUND, {
        "user_id": user.id, "messages": messages, "reply_token": reply_token, "reply_deadline": deadline,
        "retry_key": str(uuid.uuid4()), "created_at": now,
        "kind": kind,
    })
    session.execute(_INSERT_LOG, [
        {"user_id": user.id, "direction": OUTBOUND, "kind": str(message.get("type")), "text": summary(message),
         "payload": message, "flow": flow, "step": step, "outbound_id": outbound_id, "created_at": now,
         "operator_id": operator_id}
        for message in messages
    ])
    # Sent by the worker that wrote it as soon as its transaction commits, while the reply token is fresh.
    jobs.enqueue(session, DELIVER_JOB, {"outbound_id": outbound_id}, queue_key=f"out:{user.line_user_id}",
                 max_attempts=12, run_next=True)
    return outbound_id

"""Messages owed to a user: logged, stored, and queued for delivery in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from conversations.messages import Message, summary
from models import LineUser, MessageLog, OutboundMessage, WebhookEvent
from models.message_log import OUTBOUND

from . import jobs
from .services import Services

DELIVER_JOB = "line_deliver"


def queue_answer(session: Session, user: LineUser, messages: list[Message], flow: str | None, step: str | None,
                 reply_token: str | None, event: WebhookEvent | None, services: Services) -> list[OutboundMessage]:
    """Queue messages for delivery, five to a request as LINE allows, in order."""
    return [_queue(session, user, messages[i:i + 5], flow, step, reply_token if i == 0 else None, event, services)
            for i in range(0, len(messages), 5)]


def _queue(session: Session, user: LineUser, messages: list[Message], flow: str | None, step: str | None,
           reply_token: str | None, event: WebhookEvent | None, services: Services) -> OutboundMessage:
    deadline = None
    if reply_token and event is not None:
        started = min(filter(None, (event.received_at, event.occurred_at)))
        deadline = started + timedelta(seconds=services.config.reply_token_ttl_seconds)
    outbound = OutboundMessage(
        user_id=user.id, messages=messages, reply_token=reply_token, reply_deadline=deadline,
        retry_key=str(uuid.uuid4()),
    )
    session.add(outbound)
    session.flush()
    for message in messages:
        session.add(MessageLog(
            user_id=user.id, direction=OUTBOUND, kind=str(message.get("type")), text=summary(message),
            payload=message, flow=flow, step=step, outbound_id=outbound.id,
        ))
    jobs.enqueue(session, DELIVER_JOB, {"outbound_id": outbound.id}, queue_key=f"out:{user.line_user_id}",
                 max_attempts=12)
    return outbound

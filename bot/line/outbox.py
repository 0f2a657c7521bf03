"""Messages owed to a user: logged, stored, and queued for delivery in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from typing import Any

from sqlalchemy import Integer, bindparam, column, func, insert, literal, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from conversations.messages import Message, summary
from models import LineUser, MessageLog, OutboundMessage
from models.message_log import OUTBOUND
from models.outbound_message import PENDING
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
    outbound = {"user_id": user.id, "messages": messages, "reply_token": reply_token, "reply_deadline": deadline,
                "retry_key": str(uuid.uuid4()), "created_at": now, "kind": kind}
    logged = [{"user_id": user.id, "direction": OUTBOUND, "kind": str(message.get("type")), "text": summary(message),
               "payload": message, "flow": flow, "step": step, "created_at": now, "operator_id": operator_id}
              for message in messages]
    queue_key = f"out:{user.line_user_id}"
    # Sent by the worker that wrote it as soon as its transaction commits, while the reply token is fresh.
    job = jobs.next_params(session, DELIVER_JOB, queue_key, _ATTEMPTS)
    if job is not None and session.get_bind().dialect.name == "postgresql":
        return _queue_in_one_statement(session, outbound, logged, job)
    outbound_id = session.scalar(_INSERT_OUTBOUND, outbound)
    session.execute(_INSERT_LOG, [{**row, "outbound_id": outbound_id} for row in logged])
    jobs.enqueue(session, DELIVER_JOB, {"outbound_id": outbound_id}, queue_key=queue_key,
                 max_attempts=_ATTEMPTS, run_next=True)
    return outbound_id


_ATTEMPTS = 12
_OUTBOUND_COLUMNS = ("user_id", "messages", "reply_token", "reply_deadline", "retry_key", "created_at", "kind")
_LOGGED_COLUMNS = ("kind", "text", "payload", "flow", "step", "operator_id")


def _one_statement() -> Any:
    """PostgreSQL: the message, its log rows and its delivery job in one statement (three
    statements' round trips and executions cost more than their work). The log rows come as one
    JSON array, in order."""
    table, log = OutboundMessage.__table__, MessageLog.__table__
    # Every column named: the columns' Python-side defaults are not applied inside a CTE.
    queued = (insert(table).values({**{name: bindparam(f"new_{name}", type_=table.c[name].type) for name in _OUTBOUND_COLUMNS},
                                    "reply_in_doubt": False, "reply_rejected": False, "status": PENDING, "attempts": 0})
              .returning(table.c.id, table.c.user_id, table.c.created_at).cte("queued"))
    rows = (func.jsonb_to_recordset(bindparam("logged", type_=JSONB))
            .table_valued(*(column(name, log.c[name].type) for name in _LOGGED_COLUMNS), column("n", Integer))
            .render_derived(name="row", with_types=True))
    logged = (insert(log).from_select(
        ["user_id", "direction", "created_at", "outbound_id", *_LOGGED_COLUMNS],
        select(queued.c.user_id, literal(OUTBOUND, log.c.direction.type), queued.c.created_at, queued.c.id,
               *(rows.c[name] for name in _LOGGED_COLUMNS)).select_from(queued).join(rows, true()).order_by(rows.c.n))
        .cte("logged"))
    job = jobs.next_in_statement(queued, func.jsonb_build_object("outbound_id", queued.c.id)).cte("job")
    return (select(queued.c.id, job.c.id.label("job_id"), job.c.status).select_from(queued).join(job, true())
            .add_cte(logged))


_ONE_STATEMENT = _one_statement()


def _queue_in_one_statement(session: Session, outbound: dict, logged: list[dict], job: dict) -> int:
    rows = [{**{k: row[k] for k in _LOGGED_COLUMNS}, "n": n} for n, row in enumerate(logged)]
    values = {f"new_{name}": outbound[name] for name in _OUTBOUND_COLUMNS}
    outbound_id, job_id, status = session.execute(_ONE_STATEMENT, {**values, **job, "logged": rows}).one()
    jobs.queued_next(job_id, status, job, {"outbound_id": outbound_id})
    return outbound_id

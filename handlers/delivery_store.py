"""What a delivery writes (handlers/delivery.py decides): an attempt counted before each send, and
its outcome recorded after it, with the job's completion when the delivery is over.

On PostgreSQL each write is one statement in autocommit on the driver's cursor: every delivery
runs both, and two ORM transactions (BEGIN and COMMIT round trips, the session, SQLAlchemy's
execution of each statement) cost the worker more CPU than the statements did. On SQLite they
are session transactions, since a writer queues for the write lock in the session's begin hook
(models/sqlite.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from models import LineUser, OutboundMessage
from models.outbound_message import PENDING

from bot.queue import jobs
from bot.services import Services

_OUTBOUND = OutboundMessage.__table__  # a plain update: the ORM's update machinery cost more than the update
_USERS = LineUser.__table__


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt counted on a message still owed: what its send needs."""

    use_reply: bool
    # A reply attempted earlier got no answer: it may have used the token.
    was_in_doubt: bool
    messages: list[Any]
    reply_token: str | None
    retry_key: str
    kind: str | None
    to: str  # the user's LINE id
    blocked: bool


# Whether to reply, on SQLite; _USE_REPLY_SQL is the same rule on PostgreSQL. A token LINE has not
# refused, tried while fresh, and after its deadline too while an earlier reply is in doubt (only
# LINE's refusal of it then tells whether that reply was delivered).
def _use_reply(token: str | None, rejected: bool, in_doubt: bool, deadline: datetime | None, now: datetime) -> bool:
    return bool(token) and not rejected and (in_doubt or (deadline is not None and now < deadline))


# `IS TRUE`: an unknown (a NULL token or deadline) is false, as None is above.
_USE_REPLY_SQL = ("(o.reply_token <> '' AND NOT o.reply_rejected"
                  " AND (o.reply_in_doubt OR %(now)s < o.reply_deadline)) IS TRUE")


def count_attempt(services: Services, outbound_id: int) -> Attempt | None:
    """Count an attempt on the message if it is still owed (None: it is not), and mark a reply
    in doubt before it is tried: a worker that dies waiting on LINE leaves that on record."""
    if services.db.dialect == "postgresql":
        with services.db.autocommit() as connection, connection.cursor() as cursor:
            cursor.execute(_PG_COUNT_ATTEMPT, {"outbound_id": outbound_id, "now": services.clock()})
            row = cursor.fetchone()
        return None if row is None else Attempt(*row)
    with services.db.transaction() as session:
        row = session.execute(_OUTBOUND_AND_USER, {"outbound_id": outbound_id}).one_or_none()
        if row is None or row.status != PENDING:
            return None
        use_reply = _use_reply(row.reply_token, row.reply_rejected, row.reply_in_doubt, row.reply_deadline,
                               services.clock())
        session.execute(_COUNT_ATTEMPT, {"outbound_id": outbound_id, "in_doubt": use_reply or row.reply_in_doubt})
    return Attempt(use_reply, row.reply_in_doubt, row.messages, row.reply_token, row.retry_key, row.kind,
                   row.line_user_id, row.blocked_at is not None)


def record(services: Services, outbound_id: int, *, final: bool = False, **values: Any) -> None:
    """Record what happened; `final`: the delivery is over, and its job is done with this record
    (jobs.LeaseLost, and nothing recorded, if another worker has taken the job over)."""
    if services.db.dialect == "postgresql":
        return _record_in_one_statement(services, outbound_id, final, values)
    with services.db.transaction() as session:
        session.execute(update(_OUTBOUND).where(_OUTBOUND.c.id == outbound_id).values(**values))
        if final:
            jobs.complete_here(session)


# Rows, not objects: loading and flushing two ORM objects cost more than both statements.
_OUTBOUND_AND_USER = (select(_OUTBOUND.c.status, _OUTBOUND.c.reply_token, _OUTBOUND.c.reply_rejected,
                             _OUTBOUND.c.reply_in_doubt, _OUTBOUND.c.reply_deadline, _OUTBOUND.c.messages,
                             _OUTBOUND.c.retry_key, _OUTBOUND.c.kind, _USERS.c.line_user_id, _USERS.c.blocked_at)
                      .join(_USERS, _USERS.c.id == _OUTBOUND.c.user_id)
                      .where(_OUTBOUND.c.id == bindparam("outbound_id")).with_for_update(of=_OUTBOUND))
_COUNT_ATTEMPT = (update(_OUTBOUND).where(_OUTBOUND.c.id == bindparam("outbound_id"))
                  .values(attempts=_OUTBOUND.c.attempts + 1, reply_in_doubt=bindparam("in_doubt")))


# PostgreSQL (15 has no RETURNING OLD): the row is locked and read as it was, before the update,
# which counts the attempt and returns what was read, in Attempt's order. A row no longer pending
# returns nothing.
_PG_COUNT_ATTEMPT = f"""
WITH owed AS (
    SELECT o.id, {_USE_REPLY_SQL} AS use_reply, o.reply_in_doubt AS was_in_doubt, o.messages, o.reply_token,
           o.retry_key, o.kind, u.line_user_id, u.blocked_at IS NOT NULL AS blocked
    FROM {_OUTBOUND.name} o JOIN {_USERS.name} u ON u.id = o.user_id
    WHERE o.id = %(outbound_id)s AND o.status = '{PENDING}'
    FOR UPDATE OF o
)
UPDATE {_OUTBOUND.name} SET attempts = attempts + 1, reply_in_doubt = owed.use_reply OR owed.was_in_doubt
FROM owed WHERE {_OUTBOUND.name}.id = owed.id
RETURNING owed.use_reply, owed.was_in_doubt, owed.messages, owed.reply_token, owed.retry_key, owed.kind,
          owed.line_user_id, owed.blocked
"""


def _record_in_one_statement(services: Services, outbound_id: int, final: bool, values: dict[str, Any]) -> None:
    # A final record outside a running job (a handler called directly) only updates the row.
    current = jobs.running.get() if final else None
    params = {**values, "outbound_id": outbound_id}
    if current is not None:
        params.update(job_id=current.claim.id, token=current.claim.lease_token, now=services.clock())
    with services.db.autocommit() as connection, connection.cursor() as cursor:
        cursor.execute(_pg_record(tuple(values), completing=current is not None), params)
        recorded = cursor.rowcount
    if current is not None:
        if recorded != 1:
            raise jobs.LeaseLost(f"job {current.claim.id} is no longer ours")
        current.completed = True


@functools.cache
def _pg_record(columns: tuple[str, ...], *, completing: bool) -> str:
    """The record's statement, for these columns; `completing`: the row is updated only with the
    job's completion (the job still ours), in one statement, so that a crash between them can
    neither lose the record of a send nor leave the job to send it again."""
    table = _OUTBOUND.name
    assignments = ", ".join(f"{_OUTBOUND.c[column].name} = %({column})s" for column in columns)
    if not completing:
        return f"UPDATE {table} SET {assignments} WHERE id = %(outbound_id)s"
    return f"WITH {jobs.COMPLETE_CTE_SQL}\nUPDATE {table} SET {assignments} FROM done WHERE {table}.id = %(outbound_id)s"

"""What a delivery writes (handlers/delivery.py decides): an attempt counted before each send, and
its outcome recorded after it, with the job's completion when the delivery is over."""

from __future__ import annotations

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


def _use_reply(token: str | None, rejected: bool, in_doubt: bool, deadline: datetime | None, now: datetime) -> bool:
    # A token LINE has not refused, tried while fresh, and after its deadline too while an earlier
    # reply is in doubt (only LINE's refusal of it then tells whether that reply was delivered).
    return bool(token) and not rejected and (in_doubt or (deadline is not None and now < deadline))


def count_attempt(services: Services, outbound_id: int) -> Attempt | None:
    """Count an attempt on the message if it is still owed (None: it is not), and mark a reply
    in doubt before it is tried: a worker that dies waiting on LINE leaves that on record."""
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

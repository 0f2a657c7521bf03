"""Deliver what the bot owes a user exactly once: by reply while the token is fresh, else by push.

A push carries the message's own retry key, so LINE itself refuses a second copy (409). A reply
has no such key; a reply attempt that got no answer stays "in doubt", and if LINE then rejects
the token, the earlier attempt is taken to have used it: the message is not sent again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import bindparam, select, update

from models import LineUser, OutboundMessage
from models.outbound_message import FAILED, MONTHLY_LIMIT, PENDING, SENT, SKIPPED

from bot.queue import jobs
from bot.queue.jobs import RetryLater
from bot.line.api import Outcome, Result
from bot.ops.metrics import count_sent
from bot.services import Services
from handlers import quota

log = logging.getLogger(__name__)

_OUTBOUND = OutboundMessage.__table__  # a plain update: the ORM's update machinery cost more than the update
_USERS = LineUser.__table__
# Rows, not objects: loading and flushing two ORM objects cost more than both statements.
_OUTBOUND_AND_USER = (select(_OUTBOUND.c.status, _OUTBOUND.c.reply_token, _OUTBOUND.c.reply_rejected,
                             _OUTBOUND.c.reply_in_doubt, _OUTBOUND.c.reply_deadline, _OUTBOUND.c.messages,
                             _OUTBOUND.c.retry_key, _OUTBOUND.c.kind, _USERS.c.line_user_id, _USERS.c.blocked_at)
                      .join(_USERS, _USERS.c.id == _OUTBOUND.c.user_id)
                      .where(_OUTBOUND.c.id == bindparam("outbound_id")).with_for_update(of=_OUTBOUND))
_COUNT_ATTEMPT = (update(_OUTBOUND).where(_OUTBOUND.c.id == bindparam("outbound_id"))
                  .values(attempts=_OUTBOUND.c.attempts + 1, reply_in_doubt=bindparam("in_doubt")))


def _settle(services: Services, outbound_id: int, *, final: bool = False, **values: Any) -> None:
    """Record what happened; `final`: the delivery is over, and its job is done with this record."""
    with services.db.transaction() as session:
        session.execute(update(_OUTBOUND).where(_OUTBOUND.c.id == outbound_id).values(**values))
        if final:
            jobs.complete_here(session)


def _sent(services: Services, outbound_id: int, method: str, result: Result, kind: str | None,
          note: str | None = None) -> None:
    _settle(services, outbound_id, final=True, status=SENT, method=method, sent_at=services.clock(), reply_in_doubt=False,
            line_request_id=result.request_id, error=note)
    count_sent(method, kind)


def deliver(services: Services, payload: dict[str, Any]) -> None:
    outbound_id = payload["outbound_id"]
    with services.db.transaction() as session:
        outbound = session.execute(_OUTBOUND_AND_USER, {"outbound_id": outbound_id}).one_or_none()
        if outbound is None or outbound.status != PENDING:
            return
        now = services.clock()
        was_in_doubt = outbound.reply_in_doubt
        use_reply = bool(outbound.reply_token) and not outbound.reply_rejected and (
            was_in_doubt or (outbound.reply_deadline is not None and now < outbound.reply_deadline)
        )
        session.execute(_COUNT_ATTEMPT, {"outbound_id": outbound_id, "in_doubt": use_reply or was_in_doubt})
        messages, token, retry_key, kind = outbound.messages, outbound.reply_token, outbound.retry_key, outbound.kind
        to, blocked = outbound.line_user_id, outbound.blocked_at is not None

    if use_reply:
        result = services.line.reply(token, messages)
        if result.outcome is Outcome.OK:
            return _sent(services, outbound_id, "reply", result, kind)
        if result.outcome is Outcome.REJECTED and was_in_doubt:
            log.warning("outbound %s: token refused after an unanswered reply; counted as delivered", outbound_id)
            return _sent(services, outbound_id, "reply", result, kind, "assumed delivered by an earlier attempt")
        if result.outcome is Outcome.REJECTED:
            _settle(services, outbound_id, reply_rejected=True, reply_in_doubt=False)
        elif result.outcome is Outcome.RETRY:
            # A 429/5xx says only that this attempt did not use the token; an earlier unanswered
            # attempt may still have, so its doubt stays (cleared, the next retry would take a
            # refused token for "never delivered" and push a second copy).
            _settle(services, outbound_id, reply_in_doubt=was_in_doubt)
            raise RetryLater(f"reply: LINE answered {result.status}", result.retry_after)
        else:
            raise RetryLater("reply: no answer from LINE")

    if blocked:
        return _settle(services, outbound_id, final=True, status=SKIPPED, error="user has blocked the account")
    result = services.line.push(to, messages, retry_key)
    if result.outcome in (Outcome.OK, Outcome.DUPLICATE):
        return _sent(services, outbound_id, "push", result, kind)
    if result.outcome is Outcome.LIMIT:
        # Final: no push gets through before the month ends (or the plan changes). The row says
        # why, so the console lists this user for a phone call; the 100% alert is raised once.
        with services.db.transaction() as session:
            session.execute(update(_OUTBOUND).where(_OUTBOUND.c.id == outbound_id).values(
                status=FAILED, method="push", failure=MONTHLY_LIMIT, line_request_id=result.request_id,
                error="LINE refused the push: the monthly message limit is reached"))
            quota.limit_reached(services, session)
            jobs.complete_here(session)
        return
    if result.outcome is Outcome.REJECTED:
        return _settle(services, outbound_id, final=True, status=FAILED, method="push",
                       line_request_id=result.request_id,
                       error=f"LINE refused the push ({result.status}): {result.detail}")
    raise RetryLater(f"push: LINE answered {result.status or 'nothing'}", result.retry_after)

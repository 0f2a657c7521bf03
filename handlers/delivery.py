"""Deliver what the bot owes a user exactly once: by reply while the token is fresh, else by push.

A push carries the message's own retry key, so LINE itself refuses a second copy (409). A reply
has no such key; a reply attempt that got no answer stays "in doubt", and if LINE then rejects
the token, the earlier attempt is taken to have used it: the message is not sent again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update

from models import OutboundMessage
from models.outbound_message import FAILED, MONTHLY_LIMIT, SENT, SKIPPED

from bot.queue import jobs
from bot.queue.jobs import RetryLater
from bot.line.api import Outcome, Result
from bot.ops.metrics import count_sent
from bot.services import Services
from handlers import quota
from handlers.delivery_store import count_attempt, record

log = logging.getLogger(__name__)

_OUTBOUND = OutboundMessage.__table__  # a plain update: the ORM's update machinery cost more than the update


def _sent(services: Services, outbound_id: int, method: str, result: Result, kind: str | None,
          note: str | None = None) -> None:
    record(services, outbound_id, final=True, status=SENT, method=method, sent_at=services.clock(), reply_in_doubt=False,
           line_request_id=result.request_id, error=note)
    count_sent(method, kind)


def deliver(services: Services, payload: dict[str, Any]) -> None:
    outbound_id = payload["outbound_id"]
    attempt = count_attempt(services, outbound_id)
    if attempt is None:
        return
    was_in_doubt, messages, kind = attempt.was_in_doubt, attempt.messages, attempt.kind

    if attempt.use_reply:
        result = services.line.reply(attempt.reply_token, messages)
        if result.outcome is Outcome.OK:
            return _sent(services, outbound_id, "reply", result, kind)
        if result.outcome is Outcome.REJECTED and was_in_doubt:
            log.warning("outbound %s: token refused after an unanswered reply; counted as delivered", outbound_id)
            return _sent(services, outbound_id, "reply", result, kind, "assumed delivered by an earlier attempt")
        if result.outcome is Outcome.REJECTED:
            record(services, outbound_id, reply_rejected=True, reply_in_doubt=False)
        elif result.outcome is Outcome.RETRY:
            # A 429/5xx says only that this attempt did not use the token; an earlier unanswered
            # attempt may still have, so its doubt stays (cleared, the next retry would take a
            # refused token for "never delivered" and push a second copy).
            record(services, outbound_id, reply_in_doubt=was_in_doubt)
            raise RetryLater(f"reply: LINE answered {result.status}", result.retry_after)
        else:
            raise RetryLater("reply: no answer from LINE")

    if attempt.blocked:
        return record(services, outbound_id, final=True, status=SKIPPED, error="user has blocked the account")
    result = services.line.push(attempt.to, messages, attempt.retry_key)
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
        return record(services, outbound_id, final=True, status=FAILED, method="push",
                      line_request_id=result.request_id,
                      error=f"LINE refused the push ({result.status}): {result.detail}")
    raise RetryLater(f"push: LINE answered {result.status or 'nothing'}", result.retry_after)

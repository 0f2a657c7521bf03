"""Which use case runs each kind of job: the table the worker dispatches on, and the list of job
kinds the metrics report (so the web app reads it without importing the worker)."""

from __future__ import annotations

from typing import Callable

from bot.line import outbox
from bot.line.ingest import EVENT_JOB
from bot.services import Services
from handlers import alerts, delivery, handoff, turns

Handler = Callable[[Services, dict], None]

HANDLERS: dict[str, Handler] = {
    EVENT_JOB: turns.process_event,
    outbox.DELIVER_JOB: delivery.deliver,
    handoff.CREATE: handoff.create_meeting,
    handoff.CANCEL: handoff.cancel_meeting,
    handoff.UPDATE: handoff.update_meeting,
    alerts.CHANNEL_JOB: alerts.post_to_channel,
}

# Jobs that spend their time waiting on LINE, Graph or Teams rather than on the CPU: a worker runs
# them on its sending threads, so a slow answer does not hold a thread another user's turn needs.
SENDING_KINDS = frozenset({outbox.DELIVER_JOB, handoff.CREATE, handoff.CANCEL, handoff.UPDATE, alerts.CHANNEL_JOB})

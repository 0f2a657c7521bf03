"""Health for load balancers and orchestrators.

`/healthz` (liveness): the process answers; it touches nothing, so a database outage never gets
healthy web processes restarted. `/readyz` (readiness): the database answers within the probe's
short timeout and the job queue keeps up (the oldest due job has waited less than
READY_MAX_BACKLOG_SECONDS).
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app


from bot.ops import snapshot
from bot.services import current_services

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    limit = current_services().config.ready_max_backlog_seconds
    try:
        with current_app.extensions["probe"].connect() as conn:
            snapshot.ping(conn)
            backlog = snapshot.oldest_due_age(conn, current_services().clock())
    except Exception as e:  # noqa: BLE001  any failure to read is "not ready", never a 500
        log.error("readiness: database unreachable (%s)", type(e).__name__)
        return {"status": "unavailable", "database": "unreachable"}, 503
    details = {"database": "ok", "backlog_seconds": round(backlog, 1), "max_backlog_seconds": limit}
    if backlog >= limit:
        log.warning("readiness: the oldest due job has waited %.0f s (limit %s s)", backlog, limit)
        return {"status": "unavailable", "backlog": "behind", **details}, 503
    return {"status": "ok", "backlog": "ok", **details}

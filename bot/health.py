from __future__ import annotations

import logging

from flask import Blueprint, current_app
from sqlalchemy import text

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    try:
        with current_app.extensions["db"].engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:
        log.error("health check: database unreachable (%s)", type(e).__name__)
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}

"""POST /callback: LINE's webhook. Verify, store, answer; everything else happens in the workers."""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from flask import Blueprint, abort, current_app, request
from linebot.v3.webhook import SignatureValidator

from .ingest import store_events
from .metrics import count_webhook_events

bp = Blueprint("webhook", __name__)
log = logging.getLogger(__name__)


@bp.post("/callback")
def callback():
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        abort(400, "missing X-Line-Signature")
    raw = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH, werkzeug answers 413 here
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        abort(400, "body is not UTF-8")
    validator: SignatureValidator = current_app.extensions["signature_validator"]
    if not validator.validate(body, signature):
        log.warning("webhook refused: bad signature")
        abort(400, "bad signature")
    # The events are modelled (line-bot-sdk's Event) by the worker that answers them, not here: an
    # event the SDK cannot model must not cost the others, and the webhook stays cheap.
    events = _events(body)
    if events is None:
        log.warning("webhook refused: signed body is not a webhook payload")
        abort(400, "not a webhook payload")
    if events:
        store_events(current_app.extensions["db"], events)
        count_webhook_events(events)  # observability: desk_webhook_events_total (bot/metrics.py)
    return "OK"


# LINE's events are a handful of levels deep. A signed body nested deeper cannot be LINE's, and
# would strain every JSON encoder between here and the database (found by tests/test_webhook_fuzz.py:
# a deeply nested body made json.loads raise RecursionError, a 500).
_MAX_DEPTH = 256
# PostgreSQL's jsonb refuses \u0000, and lone surrogates (legal JSON escapes, not characters) cannot
# be encoded for any database: both made storing a signed body fail with a 500. They are replaced,
# so the rest of the event (a user's message) is still stored and answered.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as inf, which no database's JSON stores
        raise ValueError("number out of range")
    return value


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: Python's extension, refused by jsonb


def _storable(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError("nested too deeply")
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_storable(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {_storable(k, depth): _storable(v, depth + 1) for k, v in value.items()}
    return value


def _events(body: str) -> list | None:
    try:
        payload = _storable(json.loads(body, parse_float=_finite, parse_constant=_refuse_constant))
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        return None
    return payload["events"]

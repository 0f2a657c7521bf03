"""POST /callback: LINE's webhook. Verify, store, answer; everything else happens in the workers."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, abort, current_app, request
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhook import WebhookParser

from .ingest import store_events

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
    parser: WebhookParser = current_app.extensions["webhook_parser"]
    try:
        parser.parse(body, signature)
    except InvalidSignatureError:
        log.warning("webhook refused: bad signature")
        abort(400, "bad signature")
    except Exception:
        # The signature held (it is checked first), so LINE sent this: an event the SDK cannot
        # model must not cost the others. The worker records such events without answering.
        pass
    events = _events(body)
    if events is None:
        log.warning("webhook refused: signed body is not a webhook payload")
        abort(400, "not a webhook payload")
    if events:
        with current_app.extensions["db"].transaction() as session:
            store_events(session, events)
    return "OK"


def _events(body: str) -> list | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        return None
    return payload["events"]

"""POST /callback: LINE's webhook. Verify, store, answer; everything else happens in the workers.

It is answered below Flask, by `WebhookEndpoint` wrapped around the app's WSGI callable: it needs
none of Flask's request machinery (routing, the session, CSRF, the request hooks), which was half
of our code's CPU per webhook on the path LINE's bursts arrive by (README, *Performance*). It keeps
what the app gives every request: a request id in its log lines and in `X-Request-Id`, the
refusal metrics, 413 over MAX_CONTENT_LENGTH, and a logged 500.
"""

from __future__ import annotations

import json
import logging
import math
import re
from http import HTTPStatus
from typing import Any, Callable, Iterable

from linebot.v3.webhook import SignatureValidator
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from bot.ops import logs
from bot.line.ingest import Inbox
from bot.ops.metrics import count_webhook_events, count_webhook_refusal

PATH = "/callback"
log = logging.getLogger(__name__)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class WebhookEndpoint:
    """WSGI middleware: POST /callback is answered here, any other request goes on to `app`."""

    def __init__(self, app: WSGIApp, *, inbox: Inbox, validator: SignatureValidator, max_bytes: int) -> None:
        self.app, self.inbox, self.validator, self.max_bytes = app, inbox, validator, max_bytes

    def __call__(self, wsgi_environ: dict, start_response: Callable) -> Iterable[bytes]:
        if wsgi_environ.get("PATH_INFO") != PATH:
            return self.app(wsgi_environ, start_response)
        request_id = logs.request_id_from(wsgi_environ.get("HTTP_X_REQUEST_ID"))
        logs.set_request_id(request_id)
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("X-Request-Id", request_id)]
        try:
            if wsgi_environ.get("REQUEST_METHOD") != "POST":
                status, text = 405, "POST only"
                headers.append(("Allow", "POST"))
            else:
                status, text = self._receive(wsgi_environ)
        except Exception:
            log.exception("Exception on %s [POST]", PATH)
            status, text = 500, "internal error"
        finally:
            logs.set_request_id(None)
        body = text.encode()
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    def _receive(self, wsgi_environ: dict) -> tuple[int, str]:
        signature = wsgi_environ.get("HTTP_X_LINE_SIGNATURE")
        if not signature:
            return _refused(400, "missing X-Line-Signature", "missing_signature")
        request = Request(wsgi_environ)
        request.max_content_length = self.max_bytes
        try:
            raw = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _refused(413, "body too large", "too_large")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _refused(400, "body is not UTF-8", "not_utf8")
        if not self.validator.validate(body, signature):
            log.warning("webhook refused: bad signature")
            return _refused(400, "bad signature", "bad_signature")
        # The events are modelled (line-bot-sdk's Event) by the worker that answers them, not here:
        # an event the SDK cannot model must not cost the others, and the webhook stays cheap.
        events = _events(body)
        if events is None:
            log.warning("webhook refused: signed body is not a webhook payload")
            return _refused(400, "not a webhook payload", "not_a_payload")
        if events:
            self.inbox.store(events)
            count_webhook_events(events)  # observability: desk_webhook_events_total (bot/ops/metrics.py)
        return 200, "OK"


def _refused(status: int, text: str, reason: str) -> tuple[int, str]:
    count_webhook_refusal(reason)  # observability: desk_webhook_refused_total
    return status, text


# LINE's events are a handful of levels deep. A signed body nested deeper cannot be LINE's, and
# would strain every JSON encoder between here and the database (json.loads raises RecursionError
# on deep nesting: a 500 instead of a 400).
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

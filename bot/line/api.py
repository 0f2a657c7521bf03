"""The one place that talks to the LINE Messaging API, through line-bot-sdk's v3 client.

It turns every call into an outcome the delivery rules can act on, and never logs message
content or tokens: only the status and LINE's `x-line-request-id`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import urllib3
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi
from linebot.v3.messaging.exceptions import ApiException

from bot.ops.metrics import observe_line_call

log = logging.getLogger(__name__)


class Outcome(Enum):
    OK = "ok"
    DUPLICATE = "duplicate"  # 409: LINE had already accepted this retry key
    RETRY = "retry"  # 429, 5xx: nothing was done; try again later
    UNKNOWN = "unknown"  # timeout or broken connection: LINE may or may not have acted
    REJECTED = "rejected"  # other 4xx: this request will never succeed
    LIMIT = "monthly_limit"  # 429 "You have reached your monthly limit.": no push gets through this month


# LINE's error message on a 429 that means the account's monthly message limit is reached (its
# "Handle HTTP status code 429 errors" page tells the causes of a 429 apart by this message).
MONTHLY_LIMIT_MESSAGE = "You have reached your monthly limit."

REPLY_PATH, PUSH_PATH = "/v2/bot/message/reply", "/v2/bot/message/push"
_JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Quota:
    """This month's message quota as LINE reports it: `limit` None when no target limit is set
    (`type` "none"), and `used` the messages counted against it so far (`totalUsage`)."""
    limit: int | None
    used: int


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: int | None = None
    request_id: str | None = None
    retry_after: float | None = None
    detail: str = ""
    data: Any = field(default=None, compare=False)  # the parsed answer of a read (GET) call


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: Any) -> float | None:
    value = _header(headers, "retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _error_detail(body: Any) -> str:
    """LINE's error `message` field (e.g. 'Invalid reply token'); it never echoes message text."""
    import json

    try:
        return str(json.loads(body).get("message", ""))[:200]
    except (TypeError, ValueError, AttributeError):
        return ""


class LineApi:
    def __init__(self, base_url: str, access_token: str, *, connect_timeout: float, read_timeout: float,
                 pool_size: int = 8) -> None:
        configuration = Configuration(host=base_url, access_token=access_token)
        # Our job queue owns retries; urllib3 must not silently resend a POST.
        configuration.retries = urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0)
        configuration.connection_pool_maxsize = pool_size
        self._client = ApiClient(configuration)
        self._api = MessagingApi(self._client)
        self._timeout = (connect_timeout, read_timeout)

    def close(self) -> None:
        self._client.close()

    def _call(self, what: str, fn, *args, **kwargs) -> Result:
        started = time.perf_counter()
        result = self._send(what, fn, *args, **kwargs)
        observe_line_call(what, result.outcome.value, result.status, time.perf_counter() - started)
        return result

    def _send(self, what: str, fn, *args, **kwargs) -> Result:
        try:
            response = fn(*args, _request_timeout=self._timeout, **kwargs)
        except ApiException as e:
            request_id = _header(e.headers, "x-line-request-id")
            detail = _error_detail(e.body)
            status = e.status or 0
            if status == 409:
                accepted = _header(e.headers, "x-line-accepted-request-id")
                return Result(Outcome.DUPLICATE, status, accepted or request_id, detail=detail)
            if status == 429 and detail.strip().lower() == MONTHLY_LIMIT_MESSAGE.lower():
                log.error("LINE %s refused: the monthly message limit is reached (x-line-request-id=%s)", what,
                          request_id, extra={"line_request_id": request_id})
                return Result(Outcome.LIMIT, status, request_id, detail=detail)
            if status == 429 or status >= 500:
                log.warning("LINE %s answered %s (x-line-request-id=%s)", what, status, request_id,
                            extra={"line_request_id": request_id})
                return Result(Outcome.RETRY, status, request_id, _retry_after(e.headers), detail)
            log.error("LINE %s rejected with %s: %s (x-line-request-id=%s)", what, status, detail, request_id,
                      extra={"line_request_id": request_id})
            return Result(Outcome.REJECTED, status, request_id, detail=detail)
        except (urllib3.exceptions.HTTPError, OSError) as e:
            log.warning("LINE %s got no answer: %s", what, type(e).__name__)
            return Result(Outcome.UNKNOWN, detail=type(e).__name__)
        return Result(Outcome.OK, response.status_code, _header(response.headers, "x-line-request-id"),
                      data=response.data)

    # Reply and push, the calls of every turn, go through the SDK's client as plain JSON. Its models
    # (pydantic v1, in pure Python) parsed, validated again and re-serialised each request: about
    # 1.5 ms of a worker's CPU per message, a tenth of a turn. LINE checks the body itself; a body it
    # refuses is a 400, recorded with its request id and not retried.
    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self._client.call_api(
            path, "POST", header_params={**_JSON_HEADERS, **(headers or {})}, body=body, response_types_map={},
            auth_settings=["Bearer"], **kwargs)

    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> Result:
        return self._call("reply", self._post, REPLY_PATH, {"replyToken": reply_token, "messages": messages})

    def push(self, to: str, messages: list[dict[str, Any]], retry_key: str) -> Result:
        return self._call("push", self._post, PUSH_PATH, {"to": to, "messages": messages},
                          {"X-Line-Retry-Key": retry_key})

    def quota(self) -> Quota | None:
        """GET /v2/bot/message/quota and /v2/bot/message/quota/consumption; None when either fails."""
        limit = self._call("quota", self._api.get_message_quota_with_http_info)
        if limit.outcome is not Outcome.OK:
            return None
        used = self._call("quota_consumption", self._api.get_message_quota_consumption_with_http_info)
        if used.outcome is not Outcome.OK:
            return None
        kind = getattr(limit.data.type, "value", limit.data.type)
        return Quota(limit.data.value if kind == "limited" else None, int(used.data.total_usage))

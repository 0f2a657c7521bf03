"""The Messaging API endpoints the bot uses, answered as LINE answers them.

Reply tokens are single-use and expire; a push with an already accepted `X-Line-Retry-Key` gets
409 with `x-line-accepted-request-id`; more than five messages is a 400; a wrong access token a
401. The account has a monthly message quota of its own (`GET /v2/bot/message/quota`, type
"limited" with its value, or "none"; `/v2/bot/message/quota/consumption`, totalUsage): each accepted
push counts one (one recipient), replies are free, and once the month's pushes reach the limit a push
gets LINE's 429 "You have reached your monthly limit.". Storage is pluggable: `MemoryStore` here (tests), a database store for the simulator page.
The rich menu endpoints (what `flask --app bot richmenu deploy` calls) are in rich_menus.py.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.clock import system_clock
from bot.simulator import rich_menus

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# LINE's own clock (reply tokens expire by it), not the desk's.
now_utc = system_clock
MONTHLY_LIMIT_MESSAGE = "You have reached your monthly limit."
TOKYO = ZoneInfo("Asia/Tokyo")


def month_start() -> datetime:
    """The start of LINE's current month (Japan time), by LINE's clock."""
    return now_utc().astimezone(TOKYO).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class Store(rich_menus.RichMenuStore, Protocol):
    def issue_reply_token(self, user_id: str, ttl_seconds: float) -> str: ...
    def take_reply_token(self, token: str) -> str | None: ...
    def deliver(self, user_id: str, via: str, messages: list[dict[str, Any]]) -> None: ...
    def accept_push(self, retry_key: str | None, request_id: str, to: str,
                    messages: list[dict[str, Any]]) -> str | None: ...
    def loading(self, user_id: str, seconds: int) -> None: ...
    def profile(self, user_id: str) -> dict[str, Any] | None: ...
    def quota_limit(self) -> int | None: ...
    def pushes_this_month(self) -> int: ...


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, message: str, request_id: str) -> Answer:
    return Answer(status, {"message": message}, {"x-line-request-id": request_id})


def _messages(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return None
    if not all(isinstance(m, dict) and isinstance(m.get("type"), str) for m in messages):
        return None
    return messages


class MessagingApi:
    """Dispatch one HTTP request (path below the API host) to LINE's behaviour."""

    def __init__(self, store: Store, access_token: str) -> None:
        self.store = store
        self.access_token = access_token

    def handle(self, method: str, path: str, headers: dict[str, str], raw_body: bytes) -> Answer:
        request_id = str(uuid.uuid4())
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("authorization") != f"Bearer {self.access_token}":
            return _error(401, "Authentication failed. Confirm that the access token in the authorization "
                               "header is valid.", request_id)
        if path.startswith(rich_menus.PREFIXES):
            return self._rich_menu(method, path, lowered, raw_body, request_id)
        body: dict[str, Any] = {}
        if method == "POST":
            try:
                body = json.loads(raw_body or b"{}")
            except ValueError:
                return _error(400, "The request body has 1 error(s)", request_id)
            if not isinstance(body, dict):
                return _error(400, "The request body has 1 error(s)", request_id)
        if method == "POST" and path == "/v2/bot/message/reply":
            return self._reply(body, lowered, request_id)
        if method == "POST" and path == "/v2/bot/message/push":
            return self._push(body, lowered, request_id)
        if method == "GET" and path == "/v2/bot/message/quota":
            limit = self.store.quota_limit()
            return Answer(200, {"type": "none"} if limit is None else {"type": "limited", "value": limit},
                          {"x-line-request-id": request_id})
        if method == "GET" and path == "/v2/bot/message/quota/consumption":
            return Answer(200, {"totalUsage": self.store.pushes_this_month()}, {"x-line-request-id": request_id})
        if method == "POST" and path == "/v2/bot/chat/loading/start":
            return self._loading(body, request_id)
        if method == "GET" and path.startswith("/v2/bot/profile/"):
            profile = self.store.profile(path.rsplit("/", 1)[-1])
            if profile is None:
                return _error(404, "Not found", request_id)
            return Answer(200, profile, {"x-line-request-id": request_id})
        return _error(404, "Not found", request_id)

    def _rich_menu(self, method: str, path: str, headers: dict[str, str], raw_body: bytes,
                   request_id: str) -> Answer:
        try:
            parsed = json.loads(raw_body) if raw_body else None
        except ValueError:  # an image upload, or a broken body: the endpoint decides
            parsed = None
        body = parsed if isinstance(parsed, dict) else None
        status, answer = rich_menus.handle(self.store, method, path, headers, raw_body, body)
        return Answer(status, answer, {"x-line-request-id": request_id})

    def _reply(self, body: dict[str, Any], headers: dict[str, str], request_id: str) -> Answer:
        if "x-line-retry-key" in headers:
            return _error(400, "The retry key is not supported for this API", request_id)
        messages = _messages(body)
        if messages is None:
            return _error(400, "The request body has 1 error(s)", request_id)
        user_id = self.store.take_reply_token(str(body.get("replyToken", "")))
        if user_id is None:
            return _error(400, "Invalid reply token", request_id)
        self.store.deliver(user_id, "reply", messages)
        return Answer(200, {"sentMessages": [{"id": secrets.token_hex(8)} for _ in messages]},
                      {"x-line-request-id": request_id})

    def _push(self, body: dict[str, Any], headers: dict[str, str], request_id: str) -> Answer:
        messages = _messages(body)
        to = body.get("to")
        if messages is None or not isinstance(to, str) or not to:
            return _error(400, "The request body has 1 error(s)", request_id)
        retry_key = headers.get("x-line-retry-key")
        if retry_key is not None and not UUID_RE.match(retry_key):
            return _error(400, "The retry key must be a UUID", request_id)
        limit = self.store.quota_limit()
        if limit is not None and self.store.pushes_this_month() >= limit:
            return _error(429, MONTHLY_LIMIT_MESSAGE, request_id)
        accepted = self.store.accept_push(retry_key, request_id, to, messages)
        if accepted is not None:
            return Answer(409, {"message": "The retry key is already accepted"},
                          {"x-line-request-id": request_id, "x-line-accepted-request-id": accepted})
        return Answer(200, {"sentMessages": [{"id": secrets.token_hex(8)} for _ in messages]},
                      {"x-line-request-id": request_id})

    def _loading(self, body: dict[str, Any], request_id: str) -> Answer:
        seconds = body.get("loadingSeconds", 20)
        chat_id = body.get("chatId")
        if not isinstance(chat_id, str) or not isinstance(seconds, int) or seconds % 5 or not 5 <= seconds <= 60:
            return _error(400, "The request body has 1 error(s)", request_id)
        self.store.loading(chat_id, seconds)
        return Answer(202, {}, {"x-line-request-id": request_id})


@dataclass
class Delivered:
    user_id: str
    via: str
    message: dict[str, Any]
    at: datetime


class MemoryStore:
    """The platform's memory for a fake LINE server in tests: thread-safe, inspectable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens: dict[str, tuple[str, datetime, bool]] = {}
        self.retry_keys: dict[str, str] = {}
        self.delivered: list[Delivered] = []
        self.loadings: list[tuple[str, int]] = []
        self.profiles: dict[str, dict[str, Any]] = {}
        self.menus: dict[str, dict[str, Any]] = {}  # rich menus by id, in creation order
        self.menu_images: dict[str, tuple[str, bytes]] = {}
        self.default_menu: str | None = None
        # The monthly quota: None, no limit (type "none"); pushes counted this month (tests set both).
        self.monthly_limit: int | None = None
        self.pushes_counted = 0

    def quota_limit(self) -> int | None:
        return self.monthly_limit

    def pushes_this_month(self) -> int:
        return self.pushes_counted

    def issue_reply_token(self, user_id: str, ttl_seconds: float) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            self.tokens[token] = (user_id, now_utc() + timedelta(seconds=ttl_seconds), False)
        return token

    def expire_reply_tokens(self) -> None:
        with self._lock:
            self.tokens = {t: (u, now_utc() - timedelta(seconds=1), used) for t, (u, _, used) in self.tokens.items()}

    def take_reply_token(self, token: str) -> str | None:
        with self._lock:
            entry = self.tokens.get(token)
            if entry is None or entry[2] or entry[1] <= now_utc():
                return None
            self.tokens[token] = (entry[0], entry[1], True)
            return entry[0]

    def deliver(self, user_id: str, via: str, messages: list[dict[str, Any]]) -> None:
        with self._lock:
            self.delivered.extend(Delivered(user_id, via, m, now_utc()) for m in messages)

    def accept_push(self, retry_key: str | None, request_id: str, to: str,
                    messages: list[dict[str, Any]]) -> str | None:
        with self._lock:
            if retry_key is not None:
                if retry_key in self.retry_keys:
                    return self.retry_keys[retry_key]
                self.retry_keys[retry_key] = request_id
            self.pushes_counted += 1
            self.delivered.extend(Delivered(to, "push", m, now_utc()) for m in messages)
        return None

    def loading(self, user_id: str, seconds: int) -> None:
        with self._lock:
            self.loadings.append((user_id, seconds))

    def profile(self, user_id: str) -> dict[str, Any] | None:
        return self.profiles.get(user_id)

    def rich_menus(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.menus.values())

    def rich_menu(self, rich_menu_id: str) -> dict[str, Any] | None:
        return self.menus.get(rich_menu_id)

    def add_rich_menu(self, menu: dict[str, Any]) -> None:
        with self._lock:
            self.menus[menu["richMenuId"]] = menu

    def delete_rich_menu(self, rich_menu_id: str) -> None:
        with self._lock:
            self.menus.pop(rich_menu_id, None)
            self.menu_images.pop(rich_menu_id, None)
            if self.default_menu == rich_menu_id:
                self.default_menu = None

    def rich_menu_image(self, rich_menu_id: str) -> tuple[str, bytes] | None:
        return self.menu_images.get(rich_menu_id)

    def attach_rich_menu_image(self, rich_menu_id: str, content_type: str, image: bytes) -> None:
        with self._lock:
            self.menu_images[rich_menu_id] = (content_type, image)

    def default_rich_menu(self) -> str | None:
        return self.default_menu

    def set_default_rich_menu(self, rich_menu_id: str | None) -> None:
        with self._lock:
            self.default_menu = rich_menu_id

    def messages_to(self, user_id: str) -> list[Delivered]:
        with self._lock:
            return [d for d in self.delivered if d.user_id == user_id]

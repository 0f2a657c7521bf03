"""Webhook events as LINE builds them, and their signature: for the simulator page and the tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from ulid import ULID

from bot.clock import system_clock


def signature(channel_secret: str, body: str | bytes) -> str:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return base64.b64encode(hmac.new(channel_secret.encode("utf-8"), raw, hashlib.sha256).digest()).decode()


def _message_id() -> str:
    return str(secrets.randbelow(10**18))


def _base(kind: str, user_id: str, *, redelivery: bool = False, event_id: str | None = None) -> dict[str, Any]:
    return {
        "type": kind,
        "mode": "active",
        "timestamp": int(system_clock().timestamp() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": event_id or str(ULID()),
        "deliveryContext": {"isRedelivery": redelivery},
    }


def follow(user_id: str, reply_token: str, *, unblocked: bool = False) -> dict[str, Any]:
    return {**_base("follow", user_id), "replyToken": reply_token, "follow": {"isUnblocked": unblocked}}


def unfollow(user_id: str) -> dict[str, Any]:
    return _base("unfollow", user_id)


def text(user_id: str, reply_token: str, said: str) -> dict[str, Any]:
    return {
        **_base("message", user_id),
        "replyToken": reply_token,
        "message": {"type": "text", "id": _message_id(), "quoteToken": "q" + str(ULID()),
                    "text": said},
    }


def unsend(user_id: str, message_id: str) -> dict[str, Any]:
    return {**_base("unsend", user_id), "unsend": {"messageId": message_id}}


def sticker(user_id: str, reply_token: str) -> dict[str, Any]:
    return {
        **_base("message", user_id),
        "replyToken": reply_token,
        "message": {"type": "sticker", "id": _message_id(), "quoteToken": "q" + str(ULID()),
                    "packageId": "446", "stickerId": "1988", "stickerResourceType": "STATIC"},
    }


def postback(user_id: str, reply_token: str, data: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"data": data}
    if params:
        content["params"] = params
    return {**_base("postback", user_id), "replyToken": reply_token, "postback": content}


def body(*events: dict[str, Any], destination: str = "Udeadbeefdeadbeefdeadbeefdeadbeef") -> str:
    return json.dumps({"destination": destination, "events": list(events)}, ensure_ascii=False)

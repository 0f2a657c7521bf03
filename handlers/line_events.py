"""Each LINE event type, translated into what the conversation understands and what the log shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from linebot.v3.webhooks import (
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
)

from conversations.inputs import Follow, Postback, Text, Unfollow, Unsupported, UserInput


# LINE's reply tokens are 32 characters; the outbox keeps up to this many.
MAX_REPLY_TOKEN = 255


@dataclass(frozen=True)
class Inbound:
    """The conversation input for one event (None: nothing to answer) and how the log records it."""

    input: UserInput | None
    kind: str
    text: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    reply_token: str | None = None


def _postback_params(params: Any) -> dict[str, str]:
    if not params:
        return {}
    items = params.items() if isinstance(params, dict) else vars(params).items()
    return {str(k): str(v) for k, v in items if v is not None}


def translate(event: Any) -> Inbound:
    token = getattr(event, "reply_token", None)
    if not isinstance(token, str) or not 0 < len(token) <= MAX_REPLY_TOKEN:
        token = None  # not one LINE issues: the answer goes by push instead
    if isinstance(event, FollowEvent):
        unblocked = bool(getattr(event.follow, "is_unblocked", False)) if event.follow else False
        return Inbound(Follow(unblocked), "follow", payload={"unblocked": unblocked}, reply_token=token)
    if isinstance(event, UnfollowEvent):
        return Inbound(Unfollow(), "unfollow")
    if isinstance(event, MessageEvent):
        message = event.message
        if isinstance(message, TextMessageContent):
            said = message.text or ""
            return Inbound(Text(said), "text", said, {"text": said}, token)
        kind = str(getattr(message, "type", None) or "unknown")[:20]
        return Inbound(Unsupported(kind), kind, f"[{kind}]", {"type": kind}, token)
    if isinstance(event, PostbackEvent):
        data = event.postback.data if event.postback else ""
        params = _postback_params(event.postback.params if event.postback else None)
        shown = data if not params else f"{data} {params}"
        return Inbound(Postback(data or "", params), "postback", shown, {"data": data, "params": params}, token)
    # Joins, reads, unsends and event types newer than the SDK: recorded, not answered.
    kind = str(getattr(event, "type", None) or "unknown")[:20]
    return Inbound(None, kind, None, {"type": kind})

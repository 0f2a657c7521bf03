"""Builders for LINE message objects, as the plain JSON documents the Messaging API takes.

Flows build their answers with these, so they stay free of the SDK; the LINE adapter validates
them with the SDK's models on the way out.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]
Action = dict[str, Any]

MAX_QUICK_REPLIES = 13
MAX_TEXT = 5000


def message_action(label: str, text: str | None = None) -> Action:
    return {"type": "message", "label": label[:20], "text": text or label}


def postback_action(label: str, data: str, display_text: str | None = None) -> Action:
    action: Action = {"type": "postback", "label": label[:20], "data": data[:300]}
    if display_text:
        action["displayText"] = display_text
    return action


def datetime_picker(label: str, data: str, mode: str = "date", *, initial: str | None = None,
                    min: str | None = None, max: str | None = None) -> Action:
    action: Action = {"type": "datetimepicker", "label": label[:20], "data": data[:300], "mode": mode}
    for key, value in (("initial", initial), ("min", min), ("max", max)):
        if value:
            action[key] = value
    return action


def uri_action(label: str, uri: str) -> Action:
    return {"type": "uri", "label": label[:20], "uri": uri}


def text(body: str, quick_replies: list[Action] | None = None) -> Message:
    message: Message = {"type": "text", "text": body[:MAX_TEXT]}
    if quick_replies:
        message["quickReply"] = {
            "items": [{"type": "action", "action": a} for a in quick_replies[:MAX_QUICK_REPLIES]]
        }
    return message


def buttons(alt_text: str, body: str, actions: list[Action], title: str | None = None) -> Message:
    template: dict[str, Any] = {"type": "buttons", "text": body[:160 if title is None else 60], "actions": actions[:4]}
    if title:
        template["title"] = title[:40]
    return {"type": "template", "altText": alt_text[:400], "template": template}


def confirm(alt_text: str, body: str, yes: Action, no: Action) -> Message:
    return {"type": "template", "altText": alt_text[:400],
            "template": {"type": "confirm", "text": body[:240], "actions": [yes, no]}}


def flex(alt_text: str, contents: dict[str, Any]) -> Message:
    return {"type": "flex", "altText": alt_text[:400], "contents": contents}


def summary(message: Message) -> str:
    """A one-line rendering of a message for the conversation log and its search."""
    kind = message.get("type")
    if kind == "text":
        return str(message.get("text", ""))
    if kind in ("template", "flex"):
        return str(message.get("altText", ""))
    return f"[{kind}]"


def button_label(messages: list[Message], data: str) -> str | None:
    """What the user saw on the button that sent `data` (its displayText, else its label), looked
    up in messages the bot sent them; None when no such button is found."""
    def actions(node: Any):
        if isinstance(node, dict):
            if node.get("type") in ("postback", "datetimepicker") and "data" in node:
                yield node
            for value in node.values():
                yield from actions(value)
        elif isinstance(node, list):
            for item in node:
                yield from actions(item)

    for message in reversed(messages):
        for action in actions(message):
            if action.get("data") == data:
                return str(action.get("displayText") or action.get("label") or "") or None
    return None

"""Operator alerts to a Teams channel through a Teams Workflows webhook.

The channel's owner adds the Workflows template "Send webhook alerts to a channel" (trigger "When a
Teams webhook request is received", action "Post card in a chat or channel"), which gives an HTTPS
URL. It takes a POST of a message envelope holding Adaptive Cards (Workflows accept Adaptive Cards
only, not the old connectors' MessageCard) and answers 202 Accepted: the flow runs afterwards, so a
202 says the card was taken, not that it is in the channel yet.

The card carries no personal data: what kind of alert it is, how many of that kind are open and a
link to the console, where an operator signs in to see the rest. The URL holds the flow's
signature (`sig=`), so neither it nor an exception's text (which quotes it) is ever logged or
returned; only the status and the exception's type are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any

import requests

log = logging.getLogger(__name__)

CONNECT_TIMEOUT, READ_TIMEOUT = 3.05, 10.0
# A Retry-After longer than this is taken as this: the queue's own backoff takes over after it.
RETRY_AFTER_CAP = 3600.0


@dataclass(frozen=True)
class AlertCard:
    title: str  # Japanese, the alert's kind: e.g. "Teams会議の作成に失敗しました"
    open_count: int  # unresolved alerts of this kind
    console_url: str
    desk_name: str


class Outcome(Enum):
    POSTED = "posted"
    RETRY = "retry"  # no answer, a timeout, 429 or 5xx: nothing is lost by trying again later
    REFUSED = "refused"  # any other answer: this request will never be taken


@dataclass(frozen=True)
class PostResult:
    outcome: Outcome
    status: int | None = None
    retry_after: float | None = None
    detail: str = ""  # operator-facing, never the URL


def card_message(card: AlertCard) -> dict[str, Any]:
    """The message envelope a Workflows webhook takes, with the one Adaptive Card."""
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": card.desk_name, "size": "Small", "isSubtle": True, "wrap": True},
            {"type": "TextBlock", "text": card.title, "size": "Medium", "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": f"未対応のアラート（この種類）：{card.open_count}件", "wrap": True},
            {"type": "TextBlock", "text": "詳細はコンソールでご確認ください。", "wrap": True},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "コンソールを開く", "url": card.console_url}],
    }
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}]}


def _retry_after(value: str | None) -> float | None:
    """Retry-After as delta-seconds; an HTTP date or nonsense leaves the queue's backoff to decide."""
    try:
        return min(RETRY_AFTER_CAP, max(0.0, float(value))) if value else None
    except ValueError:
        return None


def post_card(url: str, card: AlertCard, *, connect_timeout: float = CONNECT_TIMEOUT,
              read_timeout: float = READ_TIMEOUT) -> PostResult:
    """POST the card once (no retries here: the job queue owns them)."""
    try:
        response = requests.post(url, json=card_message(card), timeout=(connect_timeout, read_timeout),
                                 allow_redirects=False)
    except requests.RequestException as e:
        log.warning("Teams channel alert got no answer: %s", type(e).__name__)
        return PostResult(Outcome.RETRY, detail=f"no answer from the Teams workflow: {type(e).__name__}")
    status = response.status_code
    if 200 <= status < 300:
        log.info("Teams channel alert accepted: %s", status)
        return PostResult(Outcome.POSTED, status)
    if status == 429 or status >= 500:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        log.warning("Teams channel alert answered %s, Retry-After %s", status, retry_after)
        return PostResult(Outcome.RETRY, status, retry_after, f"the Teams workflow is busy or failing ({status})")
    log.warning("Teams channel alert refused with %s", status)
    return PostResult(Outcome.REFUSED, status, detail=f"the Teams workflow refused the card ({status}): check "
                                                      "TEAMS_ALERT_WEBHOOK_URL and that the flow is on")

"""Operator alerts: the one way to raise one, and the job that posts it to a Teams channel.

Every alert is a row the console shows (ホーム, open alerts, resolve). With TEAMS_ALERT_WEBHOOK_URL
set, raising one also queues, in the same transaction, a job that posts a card to that Teams
channel: the alert's kind in Japanese, how many of that kind are open and a link to the console.
Never the alert's message, which may name a booking: the channel is outside the desk's access
rules, so the operator reads the rest in the console, signed in.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Job, OperatorAlert
from models.job import PENDING

from bot.config import Config
from bot.queue import jobs
from bot.services import Services
from bot.teams import channel_alerts

log = logging.getLogger(__name__)

CHANNEL_JOB = "teams_channel_alert"

# Kinds of alert, with the title their Teams card carries. A new kind adds its line here; a kind
# without one still posts, under DEFAULT_TITLE.
HANDOFF_FAILED = "handoff_failed"
CANCEL_FAILED = "cancel_failed"
UPDATE_FAILED = "update_failed"
JOB_DEAD = "job_dead"
DEMO_DATA = "demo_data"
CHAT_WAITING = "chat_waiting"
CRISIS_WORDS = "crisis_words"
QUOTA_80 = "line_quota_80"
QUOTA_95 = "line_quota_95"
QUOTA_EXHAUSTED = "line_quota_exhausted"
SAME_DAY_LATE = "same_day_late"
SAME_DAY_ABSENT = "same_day_absent"
NO_SHOW_REVIEW = "no_show_review"
TITLES = {
    HANDOFF_FAILED: "Teams会議の作成に失敗しました",
    CANCEL_FAILED: "Teams会議のキャンセルに失敗しました",
    UPDATE_FAILED: "Teams会議の時刻を変更できませんでした",
    JOB_DEAD: "バックグラウンド処理が停止しました",
    DEMO_DATA: "デモデータが残っています",
    CHAT_WAITING: "新しいチャット相談の待ちがあります",
    CRISIS_WORDS: "危機的な言葉が届きました",
    QUOTA_80: "LINEのメッセージ通数が今月の上限の80%に達しました",
    QUOTA_95: "LINEのメッセージ通数が今月の上限の95%に達しました",
    QUOTA_EXHAUSTED: "LINEのメッセージ通数が今月の上限に達しました",
    SAME_DAY_LATE: "相談者から遅れるとの連絡がありました",
    SAME_DAY_ABSENT: "相談者から参加できないとの連絡がありました",
    NO_SHOW_REVIEW: "欠席が続いている相談者への対応を判断してください",
}
DEFAULT_TITLE = "対応が必要なアラートがあります"


def raise_alert(session: Session, config: Config, kind: str, message: str, booking_id: int | None = None, *,
                to_channel: bool = True) -> OperatorAlert:
    """Raise an operator alert in the caller's transaction; returns the new row.

    - `config`: the process's Config (`services.config`); it says whether a Teams channel is set.
    - `kind`: at most 40 characters, one of the constants above (add a new one with its title to
      TITLES). Alerts are counted and shown by kind.
    - `message`: for the operator in the console: what failed and what to do. No personal data (no
      name, LINE id, contact or message text; a booking reference is fine). It stays in the
      console: the Teams card never carries it.
    - `booking_id`: the booking the alert is about, if any; a successful Teams handoff resolves
      the open alerts of its booking.
    - `to_channel`: False only for an alert about the channel post itself (its dead job), so a
      failing webhook cannot raise alerts about itself in a loop.

    With TEAMS_ALERT_WEBHOOK_URL set, a job posts the card after the transaction commits; a job of
    this kind still waiting to post takes this alert into its count instead of a second card.
    """
    alert = OperatorAlert(kind=kind, booking_id=booking_id, message=message[:2000])
    session.add(alert)
    if to_channel and config.teams_alert_webhook_url:
        queue_key = f"teams-alert:{kind}"
        waiting = session.scalar(select(Job.id).where(Job.kind == CHANNEL_JOB, Job.queue_key == queue_key,
                                                      Job.status == PENDING).limit(1))
        if waiting is None:
            jobs.enqueue(session, CHANNEL_JOB, {"kind": kind}, queue_key=queue_key)
    return alert


def open_alerts(session: Session, kind: str) -> int:
    return session.scalar(select(func.count(OperatorAlert.id)).where(OperatorAlert.kind == kind,
                                                                     OperatorAlert.resolved_at.is_(None))) or 0


def post_to_channel(services: Services, payload: dict[str, Any]) -> None:
    """The CHANNEL_JOB: post the card of one kind of alert, counted now. Nothing open any more
    (resolved meanwhile) or no URL any more: nothing to post. Should the worker die between the
    post and the job's completion, the card is posted again: a duplicate, never a lost alert."""
    url, kind = services.config.teams_alert_webhook_url, payload["kind"]
    if not url:
        return
    with services.db.transaction() as session:
        count = open_alerts(session, kind)
    if not count:
        return
    card = channel_alerts.AlertCard(title=TITLES.get(kind, DEFAULT_TITLE), open_count=count,
                                    console_url=f"{services.config.public_base_url}/console",
                                    desk_name=services.desk_settings.desk_name)
    result = channel_alerts.post_card(url, card)
    if result.outcome is channel_alerts.Outcome.RETRY:
        raise jobs.RetryLater(result.detail, result.retry_after)
    if result.outcome is channel_alerts.Outcome.REFUSED:
        raise jobs.GiveUp(result.detail)

"""How the console writes what it shows: one label and badge per booking status and Teams state,
and one date format on every page (2026年12月2日(水), with the time: 2026年12月2日(水) 10:00)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from conversations.schedule import TOKYO, WEEKDAYS_JA
from models.booking import (
    ATTENDED,
    CANCELLED,
    CONFIRMED,
    EXPIRED,
    HELD,
    NO_SHOW,
    RELEASED,
    TEAMS_CANCELLED,
    TEAMS_CREATED,
    TEAMS_FAILED,
    TEAMS_NONE,
    TEAMS_PENDING,
)

STATUS_LABELS = {
    CONFIRMED: "予約確定", ATTENDED: "参加済み", NO_SHOW: "不参加", CANCELLED: "キャンセル",
    HELD: "仮予約", EXPIRED: "仮予約の期限切れ", RELEASED: "入力中止",
}
STATUS_BADGES = {CONFIRMED: "badge-ok", ATTENDED: "badge-ok", NO_SHOW: "badge-warn", CANCELLED: "badge-muted",
                 HELD: "badge-muted", EXPIRED: "badge-muted", RELEASED: "badge-muted"}
TEAMS_LABELS = {TEAMS_NONE: "未連携", TEAMS_PENDING: "作成待ち", TEAMS_CREATED: "作成済み", TEAMS_FAILED: "失敗",
                TEAMS_CANCELLED: "キャンセル済み"}
TEAMS_BADGES = {TEAMS_NONE: "badge-muted", TEAMS_PENDING: "badge-warn", TEAMS_CREATED: "badge-ok",
                TEAMS_FAILED: "badge-danger", TEAMS_CANCELLED: "badge-muted"}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def date_label(day: date | None) -> str:
    if day is None:
        return ""
    return f"{day.year}年{day.month}月{day.day}日({WEEKDAYS_JA[day.weekday()]})"


def moment_label(moment: datetime | None, *, seconds: bool = False) -> str:
    """A stored (aware) time as the desk reads it, in Tokyo."""
    if moment is None:
        return ""
    local = moment.astimezone(TOKYO)
    return f"{date_label(local.date())} {local:%H:%M:%S}" if seconds else f"{date_label(local.date())} {local:%H:%M}"


def template_helpers() -> dict[str, Any]:
    return {"status_label": status_label, "status_badge": lambda s: STATUS_BADGES.get(s, ""),
            "teams_label": lambda s: TEAMS_LABELS.get(s, s), "teams_badge": lambda s: TEAMS_BADGES.get(s, ""),
            "date_label": date_label, "moment_label": moment_label}

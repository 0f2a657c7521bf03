"""When a counsellor can answer in the chat: the desk's open days, inside the chat hours.

Pure functions over aware datetimes, like conversations/schedule.py, whose open days (weekdays,
public holidays, the desk's closed days) they share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from conversations.schedule import WEEKDAYS_JA, BookingRules, is_open_day, label_date, to_tokyo

_LOOK_AHEAD_DAYS = 21  # past the longest year-end closure


@dataclass(frozen=True)
class ChatSettings:
    # Around the clock, every day (`CHAT_HOURS=always`); otherwise `windows` on the desk's open days.
    always: bool = False
    windows: tuple[tuple[time, time], ...] = ((time(10, 0), time(18, 30)),)
    # A waiting user is told after this long that nobody could take the chat, and offered other ways.
    wait_minutes: int = 10
    # A chat in which nobody wrote for this long ends by itself.
    idle_minutes: int = 30


def in_chat_hours(now: datetime, chat: ChatSettings, rules: BookingRules) -> bool:
    if chat.always:
        return True
    local = to_tokyo(now)
    return is_open_day(local.date(), rules) and any(a <= local.time() < b for a, b in chat.windows)


def next_opening(now: datetime, chat: ChatSettings, rules: BookingRules) -> datetime | None:
    """The next moment the chat hours begin, strictly after `now`; None if none within three weeks."""
    if chat.always:
        return None
    local = to_tokyo(now)
    for offset in range(_LOOK_AHEAD_DAYS + 1):
        day = local.date() + timedelta(days=offset)
        if not is_open_day(day, rules):
            continue
        for opens, _ in sorted(chat.windows):
            start = datetime.combine(day, opens, tzinfo=local.tzinfo)
            if start > local:
                return start
    return None


def label_hours(chat: ChatSettings, rules: BookingRules) -> str:
    """The chat hours as users read them, e.g. 平日10:00〜18:30（祝日・休業日を除く）."""
    if chat.always:
        return "24時間"
    days = sorted(rules.open_weekdays)
    named = "平日" if days == [0, 1, 2, 3, 4] else "・".join(WEEKDAYS_JA[d] for d in days) + "曜"
    times = "、".join(f"{a:%H:%M}〜{b:%H:%M}" for a, b in chat.windows)
    holidays = "（祝日・休業日を除く）" if rules.closed_on_public_holidays else "（休業日を除く）"
    return f"{named}{times}{holidays}"


def label_opening(moment: datetime) -> str:
    local = to_tokyo(moment)
    return f"{label_date(local.date())} {local:%H:%M}"

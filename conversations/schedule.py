"""When a consultation can be booked and cancelled: pure functions over Asia/Tokyo datetimes.

Nothing here reads the clock; callers pass `now`. Datetimes must be timezone-aware: whatever
zone they come in, the rules are applied to the desk's local (Asia/Tokyo) date and time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS_JA = "月火水木金土日"


@dataclass(frozen=True)
class BookingRules:
    """The desk's booking terms; the defaults follow the seed terms of use."""

    session_minutes: int = 30
    # A session must end by its window's end: 10:00-12:00 gives a last start of 11:30.
    windows: tuple[tuple[time, time], ...] = ((time(10, 0), time(12, 0)), (time(13, 0), time(18, 30)))
    open_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday .. Friday
    closed_on_public_holidays: bool = True
    # Year-end or training days, set by the operator; nothing is assumed.
    extra_closed_days: frozenset[date] = field(default_factory=frozenset)
    # Booking for day D closes at this time on the calendar day D - cutoff_days_before, even when
    # that day is a weekend or holiday: the bot takes bookings around the clock, and counting
    # calendar days keeps the rule the same one users read in the terms ("前日正午まで").
    cutoff_days_before: int = 1
    cutoff_time: time = time(12, 0)
    horizon_days: int = 30
    max_active_bookings_per_user: int = 1
    hold_minutes: int = 15
    # When True, cancelling on the day of the session is by phone only (self-service ends at
    # the end of the previous day), so that the counsellor hears about it in time.
    same_day_cancel_by_phone: bool = True


DEFAULT_RULES = BookingRules()


def to_tokyo(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive datetime would be read in the server's zone, silently off by hours.
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(TOKYO)


@lru_cache(maxsize=None)
def _public_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("JP", years=year))


def is_public_holiday(d: date) -> bool:
    return d in _public_holidays(d.year)


def is_open_day(d: date, rules: BookingRules) -> bool:
    if d.weekday() not in rules.open_weekdays or d in rules.extra_closed_days:
        return False
    return not (rules.closed_on_public_holidays and is_public_holiday(d))


def slot_starts(d: date, rules: BookingRules) -> list[datetime]:
    if not is_open_day(d, rules):
        return []
    session = timedelta(minutes=rules.session_minutes)
    starts: list[datetime] = []
    for opens, closes in rules.windows:
        start, end = datetime.combine(d, opens), datetime.combine(d, closes)
        while start + session <= end:
            starts.append(start.replace(tzinfo=TOKYO))
            start += session
    return starts


def booking_cutoff(d: date, rules: BookingRules) -> datetime:
    """The moment booking for day `d` closes (exclusive)."""
    return datetime.combine(d - timedelta(days=rules.cutoff_days_before), rules.cutoff_time, tzinfo=TOKYO)


def last_bookable_day(now: datetime, rules: BookingRules) -> date:
    return to_tokyo(now).date() + timedelta(days=rules.horizon_days)


def bookable(slot_start: datetime, now: datetime, rules: BookingRules) -> bool:
    slot, current = to_tokyo(slot_start), to_tokyo(now)
    day = slot.date()
    if day > last_bookable_day(current, rules) or slot <= current:
        return False
    if current >= booking_cutoff(day, rules):
        return False
    return slot in slot_starts(day, rules)


def bookable_days(now: datetime, rules: BookingRules) -> list[date]:
    today = to_tokyo(now).date()
    days = (today + timedelta(days=n) for n in range(rules.horizon_days + 1))
    return [d for d in days if any(bookable(s, now, rules) for s in slot_starts(d, rules))]


def can_reschedule(slot_start: datetime, now: datetime, rules: BookingRules) -> bool:
    """A booking's date and time can be changed on LINE until the booking cut-off of its own day."""
    return now < booking_cutoff(to_tokyo(slot_start).date(), rules)


def can_self_cancel(slot_start: datetime, now: datetime, rules: BookingRules) -> bool:
    slot, current = to_tokyo(slot_start), to_tokyo(now)
    if rules.same_day_cancel_by_phone:
        return current.date() < slot.date()
    return current < slot


def label_date(d: date) -> str:
    return f"{d.month}月{d.day}日({WEEKDAYS_JA[d.weekday()]})"


def label_slot(slot_start: datetime, rules: BookingRules = DEFAULT_RULES) -> str:
    start = to_tokyo(slot_start)
    end = start + timedelta(minutes=rules.session_minutes)
    return f"{label_date(start.date())} {start:%H:%M}〜{end:%H:%M}"

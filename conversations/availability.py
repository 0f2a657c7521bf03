"""Which counsellor can take which slot: pure matching over plain data, no database.

`taken` holds (counsellor id, slot start) pairs already booked or held. Slot starts come from
`calendar.slot_starts`, so a counsellor's bookings always sit on the same grid as the slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from conversations.schedule import BookingRules, bookable, slot_starts, to_tokyo

Taken = set[tuple[int, datetime]]


@dataclass(frozen=True)
class Counsellor:
    id: int
    name: str
    topics: frozenset[str]
    # Weekday (0 = Monday) -> the windows the counsellor works that day, Asia/Tokyo local time.
    weekly: dict[int, tuple[tuple[time, time], ...]] = field(default_factory=dict, hash=False)
    days_off: frozenset[date] = field(default_factory=frozenset)


def works_during(counsellor: Counsellor, slot_start: datetime, rules: BookingRules) -> bool:
    """Whether the whole session falls inside one of the counsellor's windows that day."""
    local = to_tokyo(slot_start)
    if local.date() in counsellor.days_off:
        return False
    start = local.replace(tzinfo=None)
    end = start + timedelta(minutes=rules.session_minutes)
    for opens, closes in counsellor.weekly.get(local.weekday(), ()):
        if datetime.combine(start.date(), opens) <= start and end <= datetime.combine(start.date(), closes):
            return True
    return False


def _candidates(slot_start: datetime, topic: str, counsellors: list[Counsellor], taken: Taken,
                rules: BookingRules) -> list[Counsellor]:
    return [c for c in counsellors
            if topic in c.topics and (c.id, slot_start) not in taken and works_during(c, slot_start, rules)]


def free_slots(day: date, topic: str, counsellors: list[Counsellor], taken: Taken,
               rules: BookingRules, now: datetime) -> list[datetime]:
    return [s for s in slot_starts(day, rules)
            if bookable(s, now, rules) and _candidates(s, topic, counsellors, taken, rules)]


def assign(slot_start: datetime, topic: str, counsellors: list[Counsellor], taken: Taken,
           rules: BookingRules, now: datetime) -> Counsellor | None:
    """The counsellor for a new booking, or None when nobody can take it.

    Fewest sessions that day first, so the day's load spreads out; lowest id breaks ties so the
    same inputs always give the same answer.
    """
    if not bookable(slot_start, now, rules):
        return None
    candidates = _candidates(slot_start, topic, counsellors, taken, rules)
    if not candidates:
        return None
    day = to_tokyo(slot_start).date()

    def load(counsellor: Counsellor) -> int:
        return sum(1 for cid, start in taken if cid == counsellor.id and to_tokyo(start).date() == day)

    return min(candidates, key=lambda c: (load(c), c.id))

from __future__ import annotations

from datetime import date, datetime, time, timezone

from conversations.availability import Counsellor, assign, free_slots
from conversations.schedule import TOKYO, BookingRules

RULES = BookingRules()
TUESDAY = date(2026, 12, 1)
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=TOKYO)
ALL_DAY = ((time(10, 0), time(12, 0)), (time(13, 0), time(18, 30)))


def at(hour: int, minute: int = 0, day: date = TUESDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO)


def counsellor(id: int, topics: set[str], weekly: dict[int, tuple[tuple[time, time], ...]] | None = None,
               days_off: frozenset[date] = frozenset()) -> Counsellor:
    return Counsellor(id=id, name=f"相談員{id}", topics=frozenset(topics),
                      weekly=weekly if weekly is not None else {d: ALL_DAY for d in range(5)}, days_off=days_off)


def test_only_slots_inside_a_counsellors_hours_for_that_topic_are_offered() -> None:
    mornings = counsellor(1, {"転職"}, {1: ((time(10, 0), time(11, 0)),)})
    income = counsellor(2, {"収入"})
    assert free_slots(TUESDAY, "転職", [mornings, income], set(), RULES, NOW) == [at(10), at(10, 30)]


def test_a_slot_is_not_offered_when_the_session_would_run_past_the_counsellors_hours() -> None:
    until_1045 = counsellor(1, {"転職"}, {1: ((time(10, 0), time(10, 45)),)})
    assert free_slots(TUESDAY, "転職", [until_1045], set(), RULES, NOW) == [at(10)]


def test_a_slot_stays_open_while_another_counsellor_for_the_topic_is_free() -> None:
    a, b = counsellor(1, {"転職"}), counsellor(2, {"転職"})
    assert at(10) in free_slots(TUESDAY, "転職", [a, b], {(1, at(10))}, RULES, NOW)
    assert at(10) not in free_slots(TUESDAY, "転職", [a, b], {(1, at(10)), (2, at(10))}, RULES, NOW)


def test_a_booking_recorded_in_utc_still_blocks_the_tokyo_slot() -> None:
    only = counsellor(1, {"転職"})
    taken = {(1, datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc))}
    assert at(10) not in free_slots(TUESDAY, "転職", [only], taken, RULES, NOW)


def test_no_slots_on_a_counsellors_day_off_or_on_a_closed_day() -> None:
    off = counsellor(1, {"転職"}, days_off=frozenset({TUESDAY}))
    assert free_slots(TUESDAY, "転職", [off], set(), RULES, NOW) == []
    assert free_slots(date(2026, 11, 23), "転職", [counsellor(2, {"転職"})], set(), RULES, NOW) == []


def test_slots_past_the_booking_cutoff_are_not_offered() -> None:
    after_cutoff = datetime(2026, 11, 30, 12, 0, tzinfo=TOKYO)
    assert free_slots(TUESDAY, "転職", [counsellor(1, {"転職"})], set(), RULES, after_cutoff) == []
    assert assign(at(10), "転職", [counsellor(1, {"転職"})], set(), RULES, after_cutoff) is None


def test_the_counsellor_with_the_fewest_sessions_that_day_gets_the_booking() -> None:
    a, b = counsellor(1, {"転職"}), counsellor(2, {"転職"})
    taken = {(1, at(13)), (1, at(14)), (2, at(15)), (2, at(10, day=date(2026, 11, 30))),
             (2, at(11, day=date(2026, 11, 30)))}
    assert assign(at(10), "転職", [a, b], taken, RULES, NOW) == b


def test_ties_go_to_the_lowest_id_whatever_the_list_order() -> None:
    a, b = counsellor(1, {"転職"}), counsellor(2, {"転職"})
    assert assign(at(10), "転職", [b, a], set(), RULES, NOW) == a


def test_nobody_is_assigned_when_every_counsellor_for_the_topic_is_taken_or_absent() -> None:
    a, b = counsellor(1, {"転職"}), counsellor(2, {"収入"})
    assert assign(at(10), "転職", [a, b], {(1, at(10))}, RULES, NOW) is None
    assert assign(at(10, 15), "転職", [a], set(), RULES, NOW) is None

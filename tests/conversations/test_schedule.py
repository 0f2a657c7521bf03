from __future__ import annotations

from datetime import date, datetime, time, timezone

import holidays

from conversations.schedule import (
    TOKYO,
    BookingRules,
    bookable,
    bookable_days,
    can_self_cancel,
    is_open_day,
    label_date,
    label_slot,
    slot_starts,
)

RULES = BookingRules()
UTC = timezone.utc


def tokyo(*args: int) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


TUESDAY_SLOT = tokyo(2026, 12, 1, 10, 0)


def test_a_slot_can_be_booked_until_1159_the_previous_day_but_not_at_noon() -> None:
    assert bookable(TUESDAY_SLOT, tokyo(2026, 11, 30, 11, 59), RULES)
    assert not bookable(TUESDAY_SLOT, tokyo(2026, 11, 30, 12, 0), RULES)
    assert not bookable(tokyo(2026, 12, 1, 18, 0), tokyo(2026, 11, 30, 12, 0), RULES)


def test_monday_slots_close_at_noon_on_sunday_as_the_previous_calendar_day() -> None:
    monday = tokyo(2026, 12, 7, 10, 0)
    assert bookable(monday, tokyo(2026, 12, 6, 11, 59), RULES)
    assert not bookable(monday, tokyo(2026, 12, 6, 12, 0), RULES)


def test_a_japanese_public_holiday_on_a_monday_has_no_slots() -> None:
    labor_thanksgiving = date(2026, 11, 23)
    assert labor_thanksgiving in holidays.country_holidays("JP", years=2026)
    assert labor_thanksgiving.weekday() == 0
    assert slot_starts(labor_thanksgiving, RULES) == []
    assert slot_starts(date(2026, 11, 24), RULES) != []


def test_weekends_are_closed() -> None:
    assert not is_open_day(date(2026, 11, 28), RULES)
    assert not is_open_day(date(2026, 11, 29), RULES)
    assert slot_starts(date(2026, 11, 28), RULES) == []
    assert not bookable(tokyo(2026, 11, 28, 10, 0), tokyo(2026, 11, 20, 9, 0), RULES)


def test_extra_closed_days_set_by_the_operator_have_no_slots() -> None:
    year_end = BookingRules(extra_closed_days=frozenset({date(2026, 12, 29), date(2026, 12, 30)}))
    assert slot_starts(date(2026, 12, 29), RULES) != []
    assert slot_starts(date(2026, 12, 29), year_end) == []
    days = bookable_days(tokyo(2026, 12, 20, 9, 0), year_end)
    assert date(2026, 12, 28) in days
    assert date(2026, 12, 29) not in days and date(2026, 12, 30) not in days


def test_slots_can_be_booked_at_most_thirty_days_ahead() -> None:
    now = tokyo(2026, 11, 2, 9, 0)
    assert bookable(tokyo(2026, 12, 2, 18, 0), now, RULES)
    assert not bookable(tokyo(2026, 12, 3, 10, 0), now, RULES)
    days = bookable_days(now, RULES)
    # Today is past the cutoff and 11/3 is 文化の日, so the list opens on 11/4.
    assert days[0] == date(2026, 11, 4)
    assert days[-1] == date(2026, 12, 2)
    assert days == sorted(days)
    assert date(2026, 11, 23) not in days and date(2026, 11, 7) not in days


def test_sessions_are_thirty_minutes_and_the_last_slots_start_at_1130_and_1800() -> None:
    starts = [s.time() for s in slot_starts(date(2026, 12, 1), RULES)]
    assert starts[0] == time(10, 0)
    assert time(11, 30) in starts and time(12, 0) not in starts and time(12, 30) not in starts
    assert starts[-1] == time(18, 0)
    assert len(starts) == 4 + 11


def test_a_time_between_slots_or_after_the_window_cannot_be_booked() -> None:
    now = tokyo(2026, 11, 20, 9, 0)
    for minute_off in (tokyo(2026, 12, 1, 10, 15), tokyo(2026, 12, 1, 12, 0), tokyo(2026, 12, 1, 18, 30)):
        assert not bookable(minute_off, now, RULES)


def test_a_booking_cannot_be_cancelled_online_on_the_day_itself() -> None:
    assert can_self_cancel(TUESDAY_SLOT, tokyo(2026, 11, 30, 23, 59, 59), RULES)
    assert not can_self_cancel(TUESDAY_SLOT, tokyo(2026, 12, 1, 0, 0), RULES)
    assert not can_self_cancel(TUESDAY_SLOT, tokyo(2026, 12, 1, 9, 0), RULES)


def test_a_desk_without_the_phone_rule_lets_users_cancel_until_the_session_starts() -> None:
    relaxed = BookingRules(same_day_cancel_by_phone=False)
    assert can_self_cancel(TUESDAY_SLOT, tokyo(2026, 12, 1, 9, 59), relaxed)
    assert not can_self_cancel(TUESDAY_SLOT, tokyo(2026, 12, 1, 10, 0), relaxed)


def test_all_rules_use_tokyo_time_even_when_now_is_given_in_utc() -> None:
    # 02:59 UTC on 11/30 is 11:59 in Tokyo: still before the cutoff.
    assert bookable(TUESDAY_SLOT, datetime(2026, 11, 30, 2, 59, tzinfo=UTC), RULES)
    assert not bookable(TUESDAY_SLOT, datetime(2026, 11, 30, 3, 0, tzinfo=UTC), RULES)
    # 15:00 UTC on 11/30 is already 12/1 in Tokyo: the day of the session.
    assert not can_self_cancel(TUESDAY_SLOT, datetime(2026, 11, 30, 15, 0, tzinfo=UTC), RULES)
    assert bookable(datetime(2026, 12, 1, 1, 0, tzinfo=UTC), tokyo(2026, 11, 20, 9, 0), RULES)
    assert all(s.tzinfo == TOKYO for s in slot_starts(date(2026, 12, 1), RULES))
    assert label_slot(datetime(2026, 12, 1, 1, 0, tzinfo=UTC)) == "12月1日(火) 10:00〜10:30"


def test_dates_and_slots_are_labelled_with_japanese_weekdays() -> None:
    assert label_date(date(2026, 12, 1)) == "12月1日(火)"
    assert label_date(date(2026, 11, 29)) == "11月29日(日)"
    assert label_slot(tokyo(2026, 12, 4, 18, 0)) == "12月4日(金) 18:00〜18:30"

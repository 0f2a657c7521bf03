"""The date rules at the dates that cross them: a Friday before a three-day weekend, the year end
(ISO week 53), a Sunday, and 29 February 2028. Each test runs at every one of these dates on the
service's frozen clock, through the real conversation, database, scheduler and console rules;
what it expects at each date was worked out by hand from the calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from handlers import attendance
from handlers import counsellors as counsellor_admin
from handlers import policies as policy_admin
from bot.ops import retention
from bot.queue import scheduler
from handlers.figures import compute
from handlers.periods import Period
from conversations.policy import policy_in_force
from conversations.schedule import WEEKDAYS_JA, bookable_days, can_self_cancel, to_tokyo
from models import Booking, Counsellor, MessageLog
from tests.support.chat import play, says, send, tap
from tests.support.scripts import AGREED, DETAILS

TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class Day:
    name: str
    now: datetime
    offered: tuple[date, ...]  # the first days a user is offered, in order
    week_monday: date  # the statistics week that holds today

    def __str__(self) -> str:
        return self.name


DAYS = [
    # 成人の日 is Monday 11 January 2027: Saturday to Monday closed; Friday's own cut-off has passed.
    Day("friday-before-a-holiday-weekend", datetime(2027, 1, 8, 9, 0, tzinfo=TOKYO),
        (date(2027, 1, 12), date(2027, 1, 13), date(2027, 1, 14)), date(2027, 1, 4)),
    # New Year's Day is a public holiday and 2-3 January a weekend; 28 December is in ISO week 2026-W53.
    Day("year-end", datetime(2026, 12, 28, 9, 0, tzinfo=TOKYO),
        (date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 4)), date(2026, 12, 28)),
    # Monday's cut-off is Sunday noon: still ahead at 9:00.
    Day("sunday", datetime(2026, 12, 6, 9, 0, tzinfo=TOKYO),
        (date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 9)), date(2026, 11, 30)),
    # The leap day: Wednesday is 1 March, and the week runs from Monday 28 February.
    Day("leap-day", datetime(2028, 2, 29, 9, 0, tzinfo=TOKYO),
        (date(2028, 3, 1), date(2028, 3, 2), date(2028, 3, 3), date(2028, 3, 6)), date(2028, 2, 28)),
]


@pytest.fixture(params=DAYS, ids=str)
def day(request, clock) -> Day:
    clock.set(request.param.now)
    return request.param


def label(d: date) -> str:
    return f"{d.month}/{d.day}({WEEKDAYS_JA[d.weekday()]})"


def book_the_first_offered_day(chat, day: Day) -> Booking:
    first = day.offered[0]
    play(chat, AGREED + [
        (tap("相談を予約する"), says("テーマ")),
        (tap("キャリア・転職"), says("年齢")),
        (send("25"), says("ご希望の日")),
        (tap(label(first)), says(f"{first.month}月{first.day}日")),
        (tap("10:00"), says("お名前")),
    ] + DETAILS + [(tap("確定"), says("ご予約が確定しました"))])
    with chat.services.db.transaction() as session:
        return session.scalar(select(Booking).where(Booking.status == "confirmed"))


def test_a_user_is_offered_the_next_open_days_after_the_cut_off(chat, day):
    play(chat, AGREED + [(tap("相談を予約する"), says("テーマ"))])
    chat.tap("キャリア・転職")
    offered = chat.send("25")
    dates = [b["label"] for b in offered.buttons if "/" in b["label"]]
    assert dates[:len(day.offered)] == [label(d) for d in day.offered]
    assert bookable_days(day.now, chat.services.desk_settings.rules)[:len(day.offered)] == list(day.offered)


def test_booking_for_the_first_day_closes_at_noon_the_day_before(chat, day):
    first, rules = day.offered[0], chat.services.desk_settings.rules
    noon_before = datetime.combine(first - timedelta(days=1), time(12, 0), tzinfo=TOKYO)
    assert first in bookable_days(noon_before - timedelta(minutes=1), rules)
    assert first not in bookable_days(noon_before, rules)


def test_reminders_go_the_evening_before_and_an_hour_before(chat, day, worker):
    booking = book_the_first_offered_day(chat, day)
    config, services = chat.services.config, chat.services
    evening_before = datetime.combine(to_tokyo(booking.starts_at).date() - timedelta(days=1),
                                      config.reminder_day_before, tzinfo=TOKYO)
    hour_before = booking.starts_at - timedelta(minutes=config.reminder_minutes_before)
    if evening_before > day.now:
        assert scheduler.run_periodic(services, evening_before - timedelta(minutes=1))["reminders"] == 0
    assert scheduler.run_periodic(services, max(evening_before, day.now))["reminders"] == 1
    assert scheduler.run_periodic(services, hour_before - timedelta(minutes=1))["reminders"] == 0
    assert scheduler.run_periodic(services, hour_before)["reminders"] == 1


def test_self_cancelling_ends_with_the_day_before_the_session(chat, day):
    booking = book_the_first_offered_day(chat, day)
    rules = chat.services.desk_settings.rules
    session_day = datetime.combine(to_tokyo(booking.starts_at).date(), time(0, 0), tzinfo=TOKYO)
    assert can_self_cancel(booking.starts_at, day.now, rules)
    assert can_self_cancel(booking.starts_at, session_day - timedelta(seconds=1), rules)
    assert not can_self_cancel(booking.starts_at, session_day, rules)


def test_attendance_is_marked_only_once_the_session_has_begun(chat, day):
    booking, services = book_the_first_offered_day(chat, day), chat.services
    grace = timedelta(minutes=services.config.no_show_after_minutes)
    with services.db.transaction() as session:
        with pytest.raises(attendance.AttendanceError):
            attendance.mark(session, services, booking.reference, True, services.clock())
        with pytest.raises(attendance.AttendanceError):
            attendance.mark(session, services, booking.reference, False, booking.starts_at + grace - timedelta(seconds=1))
        marked = attendance.mark(session, services, booking.reference, False, booking.starts_at + grace)
    assert marked.status == "no_show"


def test_a_counsellor_keeps_the_day_of_an_upcoming_session_until_it_is_over(chat, day):
    booking, services = book_the_first_offered_day(chat, day), chat.services
    with services.db.transaction() as session:
        counsellor = session.get(Counsellor, booking.counsellor_id)
        session_day = to_tokyo(booking.starts_at).date()
        assert counsellor_admin.add_day_off(session, counsellor, session_day, services.clock()) == 1
        assert counsellor_admin.upcoming_bookings(session, counsellor.id, booking.ends_at) == 0


def test_the_statistics_week_is_the_iso_week_of_today(chat, day):
    book_the_first_offered_day(chat, day)
    today = to_tokyo(day.now).date()
    with chat.services.db.transaction() as session:
        this_week = compute(session, Period.last_weeks(today)).weeks[-1]
    assert (this_week.first_day, this_week.last_day) == (day.week_monday, day.week_monday + timedelta(days=6))
    assert this_week.confirmed == 1 and this_week.consents_agreed == 1


def test_a_policy_version_is_in_force_from_its_effective_date(services, day):
    today = to_tokyo(day.now).date()
    draft = policy_admin.Draft(version=f"{day.name}-v2", effective=(today + timedelta(days=1)).isoformat(),
                               title="運用ポリシー（改定版）", summary="要約です。", body_markdown="本文です。")
    with services.db.transaction() as session:
        policy_admin.publish(session, draft, None, services.clock())
        policies = services.policies_now(session)
    assert policy_in_force(policies, today).version != draft.version
    assert policy_in_force(policies, today + timedelta(days=1)).version == draft.version


def test_messages_are_blanked_once_the_retention_period_has_passed(services, line, worker, day):
    assert line.post(line.text("U" + "9" * 32, "こんにちは")).status_code == 200
    worker.run_until_idle()
    kept_until = day.now + timedelta(days=services.config.retention_days)

    def texts() -> int:
        with services.db.transaction() as session:
            return len(list(session.scalars(select(MessageLog.text).where(MessageLog.text.is_not(None)))))

    before = texts()
    retention.run(services, kept_until - timedelta(days=1), force=True)
    assert texts() == before > 0
    retention.run(services, kept_until + timedelta(days=1), force=True)
    assert texts() == 0

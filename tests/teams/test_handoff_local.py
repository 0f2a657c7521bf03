"""After a booking: the meeting is made, the link reaches the user once, reminders, cancellations, no-shows.

These run with the local meeting provider (no Graph configured); test_handoff_graph.py covers Graph.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.queue import scheduler
from handlers.attendance import AttendanceError, mark
from models import Booking, LineUser, LocalMeeting
from tests.support.chat import play, says, send, tap
from tests.support.scripts import BOOKED, DETAILS, UP_TO_NAME, join_buttons, pushed

TOKYO = ZoneInfo("Asia/Tokyo")
SESSION_START = datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO)


def booking(services) -> Booking:
    with services.db.transaction() as session:
        return session.scalar(select(Booking).order_by(Booking.id.desc()))


def meetings(services) -> list[LocalMeeting]:
    with services.db.transaction() as session:
        return list(session.scalars(select(LocalMeeting)))


@pytest.fixture
def booked(chat, worker):
    play(chat, BOOKED)
    worker.run_until_idle()
    return chat


def test_a_confirmed_booking_gets_one_meeting_with_the_counsellor_and_one_link_message(booked, services, fake_line):
    [meeting] = meetings(services)
    assert meeting.attendees == ["aoki.satomi@desk.example.jp"]
    assert meeting.starts_at == SESSION_START
    b = booking(services)
    assert b.teams_status == "created" and b.join_url.endswith(f"/meeting/{meeting.id}")
    assert join_buttons(pushed(fake_line, booked.user_id)) == [b.join_url]


def test_running_the_handoff_again_changes_nothing(booked, services, worker, fake_line):
    from handlers import handoff

    handoff.create_meeting(services, {"booking_id": booking(services).id})
    worker.run_until_idle()
    assert len(meetings(services)) == 1
    assert len(join_buttons(pushed(fake_line, booked.user_id))) == 1


def test_the_local_meeting_page_says_it_is_simulated(booked, services, client):
    page = client.get(f"/meeting/{meetings(services)[0].id}").get_data(as_text=True)
    assert "模擬" in page and "12月2日(水) 10:00" in page
    assert "山田" not in page  # nobody's name on a page anyone with the link can open


def test_cancelling_on_line_cancels_the_meeting(booked, services, worker):
    play(booked, [(tap("予約の確認・キャンセル"),), (tap("キャンセルする"),), (tap("はい"), says("キャンセルしました"))])
    worker.run_until_idle()
    assert meetings(services)[0].cancelled_at is not None
    assert booking(services).teams_status == "cancelled"


def test_a_booking_cancelled_before_its_meeting_was_made_never_gets_one(chat, services, worker):
    play(chat, BOOKED + [(tap("予約の確認・キャンセル"),), (tap("キャンセルする"),), (tap("はい"),)])
    worker.run_until_idle()
    assert meetings(services) == []
    assert booking(services).teams_status == "cancelled"


def reminders(fake_line, user_id: str) -> list[str]:
    return [m["altText"] for m in pushed(fake_line, user_id) if m.get("altText", "").startswith(("明日は", "まもなく"))]


def test_reminders_come_the_evening_before_and_an_hour_before_each_once(booked, services, worker, fake_line):
    for moment, expected in [
        (datetime(2026, 12, 1, 17, 59, tzinfo=TOKYO), 0),
        (datetime(2026, 12, 1, 18, 0, tzinfo=TOKYO), 1),
        (datetime(2026, 12, 1, 22, 0, tzinfo=TOKYO), 1),
        (datetime(2026, 12, 2, 8, 59, tzinfo=TOKYO), 1),
        (datetime(2026, 12, 2, 9, 0, tzinfo=TOKYO), 2),
        (datetime(2026, 12, 2, 9, 30, tzinfo=TOKYO), 2),
    ]:
        scheduler.run_periodic(services, moment)
        worker.run_until_idle()
        assert len(reminders(fake_line, booked.user_id)) == expected, moment
    day_before, hour_before = reminders(fake_line, booked.user_id)
    assert day_before.startswith("明日はご相談の日です") and hour_before.startswith("まもなくご相談の時間です")
    assert len(join_buttons(pushed(fake_line, booked.user_id))) == 3  # the link, then each reminder


def test_two_workers_running_the_schedule_at_once_send_each_reminder_once(booked, services, worker, fake_line):
    moment = datetime(2026, 12, 1, 18, 0, tzinfo=TOKYO)
    start = threading.Barrier(2)

    def tick():
        start.wait()
        scheduler.run_periodic(services, moment)

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    worker.run_until_idle()
    assert len(reminders(fake_line, booked.user_id)) == 1


def test_no_reminder_for_a_cancelled_booking_or_a_user_who_blocked(booked, services, worker, fake_line):
    with services.db.transaction() as session:
        session.scalar(select(LineUser)).blocked_at = booked.now
    scheduler.run_periodic(services, datetime(2026, 12, 1, 18, 0, tzinfo=TOKYO))
    worker.run_until_idle()
    assert reminders(fake_line, booked.user_id) == []
    with services.db.transaction() as session:
        session.scalar(select(LineUser)).blocked_at = None
        session.scalar(select(Booking)).status = "cancelled"
    scheduler.run_periodic(services, datetime(2026, 12, 2, 9, 0, tzinfo=TOKYO))
    worker.run_until_idle()
    assert reminders(fake_line, booked.user_id) == []


def test_a_hold_nobody_confirms_is_let_go_by_the_schedule(chat, services):
    play(chat, UP_TO_NAME)
    scheduler.run_periodic(services, chat.now + timedelta(minutes=14))
    assert booking(services).status == "held"
    scheduler.run_periodic(services, chat.now + timedelta(minutes=16))
    assert booking(services).status == "expired"


def test_a_no_show_is_marked_ten_minutes_after_the_start_and_cancels_the_meeting(booked, services, worker):
    reference = booking(services).reference
    with pytest.raises(AttendanceError):
        with services.db.transaction() as session:
            mark(session, services, reference, False, SESSION_START + timedelta(minutes=9))
    with services.db.transaction() as session:
        mark(session, services, reference, False, SESSION_START + timedelta(minutes=10))
    worker.run_until_idle()
    assert booking(services).status == "no_show"
    assert meetings(services)[0].cancelled_at is not None


def test_two_no_shows_bring_a_kind_notice_then_the_operators_decision(booked, services, worker, fake_line):
    with services.db.transaction() as session:
        mark(session, services, booking(services).reference, False, SESSION_START + timedelta(minutes=15))
    booked.now = datetime(2026, 12, 3, 9, 0, tzinfo=TOKYO)
    play(booked, [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("25"),), (tap("12/4(金)"),), (tap("10:00"),),
                  (tap("新しく入力する"),)] + DETAILS + [(tap("確定"), says("ご予約が確定しました"))])
    with services.db.transaction() as session:
        second = datetime(2026, 12, 4, 10, 20, tzinfo=TOKYO)
        mark(session, services, booking(services).reference, False, second)
    worker.run_until_idle()
    notice = [m["text"] for m in pushed(fake_line, booked.user_id) if m.get("type") == "text"]
    assert sum("ご参加が確認できなかった" in t for t in notice) == 1  # after the first only
    with services.db.transaction() as session:
        assert session.scalar(select(LineUser)).no_show_review_at is not None  # the operator decides (console)
    assert meetings(services)[-1].cancelled_at is not None


def test_attended_sessions_do_not_count_as_no_shows(booked, services):
    with services.db.transaction() as session:
        mark(session, services, booking(services).reference, True, SESSION_START + timedelta(minutes=1))
    assert booking(services).status == "attended"
    with services.db.transaction() as session:
        assert session.scalar(select(LineUser)).restricted_at is None

"""A cancellation made at the desk says who asked for it: the user, by phone or in person, or the
desk itself. Each tells the user something different on LINE and is counted apart in the
statistics; the console refuses a cancellation that does not say who asked."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

from handlers import figures
from handlers.periods import Period
from models import Booking, LocalMeeting
from tests.support.booking_actions import book_through_line, booking_row, deliver_all, follow, line_texts
from tests.support.console import at_desk, audit_rows, create_operator, db, post_form, signed_in_client


def cancel_in_console(app, chat, worker, asked_by: str | None, reason: str = "ご本人より") -> tuple[Booking, str]:
    create_operator(app)
    at_desk(app)
    booking = book_through_line(chat, worker)
    admin = signed_in_client(app)
    detail = f"/console/bookings/{booking.reference}"
    form = {"reason": reason} | ({"asked_by": asked_by} if asked_by else {})
    page = follow(admin, post_form(admin, detail, f"{detail}/cancel", form))
    deliver_all(worker)
    return booking_row(app, booking.reference), page


def week_figures(app):
    with db(app).transaction() as session:
        return figures.compute(session, Period.covering(date(2026, 11, 30), date(2026, 12, 6))).total


def test_a_user_who_phoned_to_cancel_is_told_their_call_was_heard_and_is_counted_as_their_request(
        app, chat, worker, fake_line):
    booking, page = cancel_in_console(app, chat, worker, "phone", "電話で体調不良との連絡")
    assert "予約をキャンセルしました" in page and "ご本人（電話で窓口へ）" in page
    assert (booking.status, booking.cancelled_by) == ("cancelled", "user_phone")
    said = line_texts(fake_line, chat.user_id)
    assert any("お電話でご連絡いただいたとおり" in t and "12月2日(水) 10:00" in t for t in said)
    assert not any("窓口の都合" in t for t in said)
    with db(app).transaction() as session:
        meeting = session.scalar(select(LocalMeeting))
        assert meeting.cancelled_at is not None and "相談者からのキャンセル" in meeting.cancel_comment
    [entry] = audit_rows(app, "cancel_booking")
    assert json.loads(entry.detail) == {"reason": "電話で体調不良との連絡", "cancelled_by": "user_phone"}
    total = week_figures(app)
    assert (total.cancelled_by_user, total.cancelled_on_request, total.cancelled_by_desk) == (0, 1, 0)


def test_a_user_who_came_to_the_desk_to_cancel_hears_so_on_line(app, chat, worker, fake_line):
    booking, _ = cancel_in_console(app, chat, worker, "in_person")
    assert booking.cancelled_by == "user_in_person"
    assert any("窓口でお申し出いただいたとおり" in t for t in line_texts(fake_line, chat.user_id))
    assert week_figures(app).cancelled_on_request == 1


def test_a_cancellation_for_the_desks_own_reasons_apologises_and_counts_for_the_desk(app, chat, worker, fake_line):
    booking, _ = cancel_in_console(app, chat, worker, "desk", "相談員の急病")
    assert booking.cancelled_by == "operator"
    assert any("窓口の都合によりキャンセル" in t for t in line_texts(fake_line, chat.user_id))
    total = week_figures(app)
    assert (total.cancelled_on_request, total.cancelled_by_desk) == (0, 1)


def test_the_console_refuses_a_cancellation_that_does_not_say_who_asked(app, chat, worker, fake_line):
    booking, page = cancel_in_console(app, chat, worker, None)
    assert "キャンセルの依頼元を選んでください。" in page
    assert booking.status == "confirmed"
    assert not any("キャンセルとなりました" in t or "キャンセルしました" in t for t in line_texts(fake_line, chat.user_id))


def test_the_cancel_command_records_who_asked(app, chat, worker, fake_line):
    booking = book_through_line(chat, worker)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cancel-booking", booking.reference, "--reason", "来所にて", "--asked-by", "in-person"])
    assert result.exit_code == 0, result.output
    deliver_all(worker)
    assert booking_row(app, booking.reference).cancelled_by == "user_in_person"
    assert any("窓口でお申し出いただいたとおり" in t for t in line_texts(fake_line, chat.user_id))


def test_the_statistics_csv_has_a_column_for_each_who(app):
    with db(app).transaction() as session:
        header = figures.compute(session, Period.covering(date(2026, 11, 30), date(2026, 12, 6))).weekly_header()
    assert ["キャンセル（利用者）", "キャンセル（本人の連絡で窓口）", "キャンセル（窓口）"] == \
        [h for h in header if h.startswith("キャンセル")]

"""Marking a session attended or a no-show, and what repeated no-shows lead to.

After a no-show below the limit the user gets a kind notice. At NO_SHOW_LIMIT no-shows within
NO_SHOW_WINDOW_DAYS (a no-show the user told us about on the day does not count), the operator is
asked to decide in the console (NO_SHOW_RESTRICTION=ask, an alert), or booking is restricted at once
(auto). A restriction for no-shows ends by itself after RESTRICTION_DAYS; the user is told the date.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from conversations import notices
from models import Booking, LineUser
from models.booking import ABSENT, ATTENDED, CONFIRMED, NO_SHOW

from handlers import handoff
from handlers.alerts import NO_SHOW_REVIEW, raise_alert
from bot.line.outbox import queue_answer
from bot.services import Services


class AttendanceError(ValueError):
    pass


def mark(session: Session, services: Services, reference: str, attended: bool, now: datetime) -> Booking:
    booking = session.scalar(select(Booking).where(Booking.reference == reference))
    if booking is None:
        raise AttendanceError(f"no booking {reference}")
    if booking.status not in (CONFIRMED, ATTENDED, NO_SHOW):
        raise AttendanceError(f"booking {reference} is {booking.status}")
    if attended and now < booking.starts_at:
        raise AttendanceError("a session can be marked attended once it has started")
    grace = timedelta(minutes=services.config.no_show_after_minutes)
    if not attended and now < booking.starts_at + grace:
        raise AttendanceError(f"a no-show can be marked {grace.seconds // 60} minutes after the start")
    booking.status, booking.attendance_marked_at = (ATTENDED if attended else NO_SHOW), now
    if not attended:
        handoff.enqueue_cancel(session, booking, "ご参加が確認できなかったため、このオンライン相談は終了しました。")
        _after_no_show(session, services, booking, now)
    return booking


def no_shows(session: Session, config, user_id: int, now: datetime) -> int:
    """No-shows without contact on the day, of sessions in the window before `now`."""
    since = now - timedelta(days=config.no_show_window_days)
    return session.scalar(select(func.count()).select_from(Booking).where(
        Booking.user_id == user_id, Booking.status == NO_SHOW, Booking.starts_at >= since,
        or_(Booking.same_day_contact.is_(None), Booking.same_day_contact != ABSENT))) or 0


def restrict_for_no_shows(session: Session, services: Services, user: LineUser, count: int, now: datetime) -> None:
    """Restrict booking until RESTRICTION_DAYS from now, and tell the user until when."""
    user.restricted_at, user.restriction_reason = now, f"no-shows: {count}"
    user.restricted_until = now + timedelta(days=services.config.restriction_days)
    user.no_show_review_at = None
    if not user.blocked:
        queue_answer(session, user, notices.restricted_after_no_shows(services.desk_settings, count,
                                                                      user.restricted_until),
                     "attendance", "restricted", None, None, services)


def _after_no_show(session: Session, services: Services, booking: Booking, now: datetime) -> None:
    session.flush()
    user = session.get(LineUser, booking.user_id)
    if user.restricted_at is not None:
        return
    count = no_shows(session, services.config, user.id, now)
    if count < services.config.no_show_limit:
        if not user.blocked:
            queue_answer(session, user, notices.no_show_noticed(services.desk_settings, booking.starts_at),
                         "attendance", "no_show", None, None, services)
        return
    if services.config.no_show_restriction == "auto":
        restrict_for_no_shows(session, services, user, count, now)
        return
    if user.no_show_review_at is None:
        user.no_show_review_at = now
        raise_alert(session, services.config, NO_SHOW_REVIEW,
                    f"User #{user.id} missed {count} sessions without contact in the last "
                    f"{services.config.no_show_window_days} days: decide in the console (利用者 #{user.id}) "
                    "whether to restrict booking.", booking.id)

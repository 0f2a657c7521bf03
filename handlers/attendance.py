"""Marking a session attended or a no-show, and the rule that repeated no-shows restrict booking."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversations import notices
from models import Booking, LineUser
from models.booking import ATTENDED, CONFIRMED, NO_SHOW

from handlers import handoff
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
        _restrict_after_repeated_no_shows(session, services, booking.user_id, now)
    return booking


def _restrict_after_repeated_no_shows(session: Session, services: Services, user_id: int, now: datetime) -> None:
    session.flush()
    count = session.scalar(select(func.count()).select_from(Booking)
                           .where(Booking.user_id == user_id, Booking.status == NO_SHOW))
    user = session.get(LineUser, user_id)
    if count < services.config.no_show_limit or user.restricted_at is not None:
        return
    user.restricted_at, user.restriction_reason = now, f"no-shows: {count}"
    if not user.blocked:
        queue_answer(session, user, notices.restricted_after_no_shows(services.desk_settings, count),
                     "attendance", "restricted", None, None, services)

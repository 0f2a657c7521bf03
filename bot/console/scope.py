"""What each role may see of bookings, users and messages, as SQL conditions every console query applies.

admin: everything. counsellor: their own bookings, the users of those bookings once confirmed, and
of each such user only the conversation around that booking (from a day before it was started);
all of it until CONSOLE_COUNSELLOR_ACCESS_DAYS after the session. viewer: no booking, user or
message at all (statistics only).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from bot.services import current_services
from models import Booking, LineUser, MessageLog, Operator
from models.operator import ADMIN, COUNSELLOR

# How long before a booking was started its conversation counts as "around" it (the consent, the
# topic, a question asked first).
LEAD = timedelta(days=1)


def _access_since() -> datetime:
    services = current_services()
    return services.clock() - timedelta(days=services.config.counsellor_access_days)


def _own_recent_booking(operator: Operator) -> ColumnElement[bool]:
    return and_(Booking.counsellor_id == operator.counsellor_id, Booking.ends_at > _access_since())


def _counsellor(operator: Operator) -> bool:
    return operator.role == COUNSELLOR and operator.counsellor_id is not None


def bookings_visible_to(operator: Operator) -> ColumnElement[bool]:
    """A WHERE condition on Booking for the bookings this operator may see."""
    if operator.role == ADMIN:
        return true()
    if _counsellor(operator):
        return _own_recent_booking(operator)
    return false()


def users_visible_to(operator: Operator) -> ColumnElement[bool]:
    """A WHERE condition on LineUser for the users (and so the conversations) this operator may see."""
    if operator.role == ADMIN:
        return true()
    if _counsellor(operator):
        booked = select(Booking.user_id).where(_own_recent_booking(operator), Booking.confirmed_at.is_not(None))
        return LineUser.id.in_(booked)
    return false()


def messages_visible_to(session: Session, operator: Operator) -> ColumnElement[bool]:
    """A WHERE condition on MessageLog: for a counsellor, only the conversation around their own
    confirmed bookings (not what the user typed for a booking with someone else months before)."""
    if operator.role == ADMIN:
        return true()
    if not _counsellor(operator):
        return false()
    after = timedelta(days=current_services().config.counsellor_access_days)
    # A counsellor's bookings still in view are few: each becomes a window of its user's messages.
    windows = [and_(MessageLog.user_id == user_id, MessageLog.created_at >= created_at - LEAD,
                    MessageLog.created_at <= ends_at + after)
               for user_id, created_at, ends_at in session.execute(
                   select(Booking.user_id, Booking.created_at, Booking.ends_at)
                   .where(_own_recent_booking(operator), Booking.confirmed_at.is_not(None)))]
    return or_(*windows) if windows else false()

"""What each role may see of bookings and users, as SQL conditions every console query applies.

admin: everything. counsellor: the bookings assigned to them, and the users who have (or had) a
booking with them. viewer: no booking or user at all (statistics only).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true

from models import Booking, LineUser, Operator
from models.operator import ADMIN, COUNSELLOR


def bookings_visible_to(operator: Operator) -> ColumnElement[bool]:
    """A WHERE condition on Booking for the bookings this operator may see."""
    if operator.role == ADMIN:
        return true()
    if operator.role == COUNSELLOR and operator.counsellor_id is not None:
        return Booking.counsellor_id == operator.counsellor_id
    return false()


def users_visible_to(operator: Operator) -> ColumnElement[bool]:
    """A WHERE condition on LineUser for the users (and so the conversations) this operator may see."""
    if operator.role == ADMIN:
        return true()
    if operator.role == COUNSELLOR and operator.counsellor_id is not None:
        booked = select(Booking.user_id).where(Booking.counsellor_id == operator.counsellor_id,
                                               Booking.confirmed_at.is_not(None))
        return LineUser.id.in_(booked)
    return false()

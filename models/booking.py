from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped

HELD, CONFIRMED, CANCELLED, EXPIRED, RELEASED = "held", "confirmed", "cancelled", "expired", "released"
ATTENDED, NO_SHOW = "attended", "no_show"
LATE, ABSENT = "late", "absent"  # Booking.same_day_contact
# Who cancelled (Booking.cancelled_by): the user on LINE; the desk's staff because the user asked,
# by phone or in person; the desk for its own reasons ("operator", as before this was recorded).
BY_USER, BY_USER_PHONE, BY_USER_IN_PERSON, BY_DESK = "user", "user_phone", "user_in_person", "operator"
ON_USER_REQUEST = (BY_USER_PHONE, BY_USER_IN_PERSON)
# Statuses that occupy the counsellor's slot.
OCCUPYING = (HELD, CONFIRMED)


class Booking(Base):
    """A consultation slot: held while the user fills in the details, then confirmed or let go."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("line_users.id"), index=True)
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("counsellors.id"))
    topic: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=HELD)
    hold_expires_at: Mapped[datetime | None]
    name: Mapped[str | None] = mapped_column(String(80))
    furigana: Mapped[str | None] = mapped_column(String(80))
    age: Mapped[int | None]
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    consultation: Mapped[str | None] = mapped_column(Text)
    # The consultation text used words of crisis: marked for the counsellor (the text is kept).
    attention: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Who attends with the user (conversations/flows/booking_attendant.py): for the counsellor only.
    attendant: Mapped[str | None] = mapped_column(String(20))
    # The random part of the 予定に追加 link's token (handlers/calendar_links.py).
    calendar_key: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    created_at: Mapped[datetime] = stamped()
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(20))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # The Teams handoff: none → pending → created (→ cancelled), or failed (the operator retries).
    teams_status: Mapped[str] = mapped_column(String(12), default="none")
    # Bumped by an operator's retry, so Graph sees a new transactionId and makes a new event.
    handoff_generation: Mapped[int] = mapped_column(default=0)
    graph_event_id: Mapped[str | None] = mapped_column(String(255))
    join_url: Mapped[str | None] = mapped_column(Text)
    handoff_error: Mapped[str | None] = mapped_column(Text)
    join_link_sent_at: Mapped[datetime | None]
    reminded_day_before_at: Mapped[datetime | None]
    reminded_hour_before_at: Mapped[datetime | None]
    attendance_marked_at: Mapped[datetime | None]
    # The user's contact on the day of the session (予約の確認 → 遅れる・参加できない): LATE with
    # late_minutes, or ABSENT; the counsellor is alerted.
    same_day_contact: Mapped[str | None] = mapped_column(String(12))
    late_minutes: Mapped[int | None]
    same_day_contact_at: Mapped[datetime | None]

    __table_args__ = (
        # The database itself refuses a second live booking of one counsellor's slot, so two
        # users tapping the same time at the same moment can never both get it.
        Index(
            "uq_bookings_counsellor_slot",
            "counsellor_id",
            "starts_at",
            unique=True,
            postgresql_where=text("status IN ('held', 'confirmed')"),
            sqlite_where=text("status IN ('held', 'confirmed')"),
        ),
        Index("ix_bookings_starts_at", "starts_at"),
    )

TEAMS_NONE, TEAMS_PENDING, TEAMS_CREATED, TEAMS_FAILED, TEAMS_CANCELLED = "none", "pending", "created", "failed", "cancelled"

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped


class AuditEntry(Base):
    """Who did what in the operator console, and when: sign-ins (also failed ones), sign-outs, every
    view of personal data and every change.

    Append-only: the code has no path that updates or deletes a row, and a database trigger (see
    migration 0004) refuses UPDATE and DELETE. Never holds a password.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = stamped()
    # None when nobody is known (a failed sign-in with an unknown e-mail address).
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    # The e-mail address as it was (or as typed, for a failed sign-in).
    operator_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40))
    # What was acted on, e.g. "booking:AB12CD34" or "line_user:17".
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(45))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_operator", "operator_id", "at"),
    )

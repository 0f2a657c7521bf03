from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped


class OperatorAlert(Base):
    """Something an operator must act on: a failed Teams handoff, a permission Graph refused, ..."""

    __tablename__ = "operator_alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    # Operator-facing and free of personal data: what failed and what to do about it.
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = stamped()
    resolved_at: Mapped[datetime | None]

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, stamped


class LocalMeeting(Base):
    """A meeting of the local provider, which stands in for Teams when Graph is not configured."""

    __tablename__ = "local_meetings"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String(80), unique=True)
    subject: Mapped[str] = mapped_column(String(255))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    attendees: Mapped[list[Any]] = mapped_column(default=list)
    cancelled_at: Mapped[datetime | None]
    cancel_comment: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = stamped()

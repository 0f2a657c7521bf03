from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import String, false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, stamped


class Counsellor(Base):
    """A counsellor who holds sessions: their topics and when they work."""

    __tablename__ = "counsellors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    topics: Mapped[list[Any]] = mapped_column(default=list)
    # {"0": [["10:00", "12:00"], ["13:00", "18:30"]], ...}: weekday (0 = Monday) to windows.
    weekly: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # ISO dates the counsellor does not work.
    days_off: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    # Added by `demo-data` for the simulator: never offered to users once a LINE channel is configured.
    demo: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = stamped()

    def days_off_set(self) -> frozenset[date]:
        return frozenset(date.fromisoformat(d) for d in self.days_off)

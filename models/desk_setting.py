from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, stamped

MAINTENANCE = "maintenance"


class DeskSetting(Base):
    """Settings the operator changes while the service runs (maintenance mode, ...)."""

    __tablename__ = "desk_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = stamped(on_update=True)

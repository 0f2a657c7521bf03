from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped


class WebhookEvent(Base):
    """One event exactly as LINE sent it; `event_key` (webhookEventId) makes redeliveries no-ops."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(80), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    source_key: Mapped[str] = mapped_column(String(100))
    is_redelivery: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = stamped()
    occurred_at: Mapped[datetime | None]
    body: Mapped[dict[str, Any]]
    processed_at: Mapped[datetime | None]

    # The retention purge blanks bodies and deletes rows by age.
    __table_args__ = (Index("ix_webhook_events_received_at", "received_at"),)

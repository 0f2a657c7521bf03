from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"


class OutboundMessage(Base):
    """Up to five LINE messages the bot owes one user, delivered exactly once by reply or push."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("line_users.id"), index=True)
    messages: Mapped[list[Any]]
    reply_token: Mapped[str | None] = mapped_column(String(255))
    reply_deadline: Mapped[datetime | None]
    # Set before a reply is attempted and cleared by any definite answer: a reply still "in
    # doubt" on retry may have reached the user, so a rejected token then means "delivered".
    reply_in_doubt: Mapped[bool] = mapped_column(default=False)
    reply_rejected: Mapped[bool] = mapped_column(default=False)
    # Stable for this logical message, so a repeated push is recognised by LINE (409).
    retry_key: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    method: Mapped[str | None] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(default=0)
    line_request_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = stamped()
    sent_at: Mapped[datetime | None]

    # The retention purge deletes old messages by age.
    __table_args__ = (Index("ix_outbound_messages_created_at", "created_at"),)

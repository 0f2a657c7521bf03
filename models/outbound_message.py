from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
# What a message is, for counting what the month's pushes were spent on (bot/line/outbox.py derives
# it from the flow and step it is logged with): the Teams join link, a reminder, an operator's chat
# message, a bot's answer to the user (free by reply; a push when its token had expired), a notice.
JOIN_LINK, REMINDER, OPERATOR, ANSWER, NOTICE = "join_link", "reminder", "operator", "answer", "notice"
KINDS = (JOIN_LINK, REMINDER, OPERATOR, ANSWER, NOTICE)
# Why a failed delivery failed, where it matters: LINE refused the push because the account's
# monthly message limit is reached (final: retrying cannot help before the month ends).
MONTHLY_LIMIT = "monthly_limit"


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
    kind: Mapped[str | None] = mapped_column(String(12))
    failure: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = stamped()
    sent_at: Mapped[datetime | None]

    # The retention purge deletes old messages by age; the month's pushes are counted by send time.
    __table_args__ = (Index("ix_outbound_messages_created_at", "created_at"),
                      Index("ix_outbound_messages_sent_at", "sent_at"))

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped

INBOUND, OUTBOUND = "in", "out"


class MessageLog(Base):
    """The conversation as the operator console shows it: every message in and out, with its step."""

    __tablename__ = "message_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("line_users.id"))
    direction: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = stamped()
    # follow, unfollow, text, postback, sticker, image, ... for inbound; text, template, flex out.
    kind: Mapped[str] = mapped_column(String(20))
    # A readable one-line rendering, for search and the timeline.
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    flow: Mapped[str | None] = mapped_column(String(40))
    step: Mapped[str | None] = mapped_column(String(40))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_events.id"))
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_messages.id"))
    # The operator who wrote an outbound message in a chat; None: the bot.
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))

    __table_args__ = (
        Index("ix_message_log_user_time", "user_id", "created_at"),
        # Statistics and the console's date searches read by time across all users.
        Index("ix_message_log_created_at", "created_at"),
        # Deleting an old webhook event or outbound message checks that no log row still points at
        # it; without these each deleted row would scan the whole log. Partial: the links of logs
        # past the retention period are cleared, and those rows need no entry.
        Index("ix_message_log_event_id", "event_id", postgresql_where=sql("event_id IS NOT NULL"),
              sqlite_where=sql("event_id IS NOT NULL")),
        Index("ix_message_log_outbound_id", "outbound_id", postgresql_where=sql("outbound_id IS NOT NULL"),
              sqlite_where=sql("outbound_id IS NOT NULL")),
    )

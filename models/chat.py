from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped

WAITING, ACTIVE, ENDED = "waiting", "active", "ended"
OPEN = (WAITING, ACTIVE)
# Who or what ended a chat.
BY_USER, BY_OPERATOR, BY_SILENCE, LEFT_LINE, NOBODY_CAME = "user", "operator", "silence", "left", "no_answer"
OUTCOMES = {"resolved": "解決", "booking": "予約を案内", "referred": "他機関を案内"}


class Chat(Base):
    """One chat consultation: a user asked for a person, waited, and an operator answered.

    The messages themselves are in the message log (the user's timeline); this row holds the
    chat's course, for the queue, the console and the statistics. No text of the conversation.
    """

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("line_users.id"))
    status: Mapped[str] = mapped_column(String(10), default=WAITING)
    requested_at: Mapped[datetime] = stamped()
    taken_at: Mapped[datetime | None]
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(10))
    outcome: Mapped[str | None] = mapped_column(String(10))
    satisfaction: Mapped[int | None]
    # The last message either side sent: a chat silent for the set time ends by itself.
    last_message_at: Mapped[datetime | None]
    # The reply token of the user's latest message, which the bot left unanswered: the operator's
    # next message goes by reply (free) while it is fresh, else by push.
    reply_token: Mapped[str | None] = mapped_column(String(255))
    reply_received_at: Mapped[datetime | None]
    crisis: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'active', 'ended')", name="status"),
        CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        # One open chat per user, whichever process asks: the database refuses a second.
        Index("uq_chats_open_user", "user_id", unique=True,
              postgresql_where=sql("status IN ('waiting', 'active')"),
              sqlite_where=sql("status IN ('waiting', 'active')")),
        Index("ix_chats_status_requested", "status", "requested_at"),
        Index("ix_chats_requested_at", "requested_at"),
    )


class ChatTemplate(Base):
    """A canned reply (定型文) an operator can send in a chat; admins keep the list."""

    __tablename__ = "chat_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped(on_update=True)

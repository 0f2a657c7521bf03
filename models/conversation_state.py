from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, stamped


class ConversationState(Base):
    """Where one user is in a conversation flow, and what they have answered so far."""

    __tablename__ = "conversation_states"

    user_id: Mapped[int] = mapped_column(ForeignKey("line_users.id"), primary_key=True)
    flow: Mapped[str | None] = mapped_column(String(40))
    step: Mapped[str | None] = mapped_column(String(40))
    # Identifies one run of a flow: buttons from an earlier run are recognised as stale.
    run_id: Mapped[str | None] = mapped_column(String(12))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    history: Mapped[list[Any]] = mapped_column(default=list)
    reasks: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = stamped()

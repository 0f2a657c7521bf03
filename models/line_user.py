from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, stamped


class LineUser(Base):
    """A LINE account that has talked to the bot. Personal details live elsewhere, behind consent."""

    __tablename__ = "line_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = stamped()
    followed_at: Mapped[datetime | None]
    # Set while the user has blocked the account: nothing may be pushed to them.
    blocked_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    # Set by the operator after a violation or repeated no-shows: the user may not book.
    restricted_at: Mapped[datetime | None]
    restriction_reason: Mapped[str | None] = mapped_column(Text)
    # The restriction lifts by itself at this moment (None: until an operator lifts it).
    restricted_until: Mapped[datetime | None]
    # Set when repeated no-shows await the operator's decision (restrict or not); cleared by it.
    no_show_review_at: Mapped[datetime | None]
    # Set when a message used words of crisis; the operator sees it flagged.
    flagged_at: Mapped[datetime | None]
    # Set when the operator erased this user's personal data; the row stays for anonymous counts.
    erased_at: Mapped[datetime | None]

    @property
    def blocked(self) -> bool:
        return self.blocked_at is not None

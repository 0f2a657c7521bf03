from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped


class FaqEntryRow(Base):
    """An admin's change to the FAQ: a new entry, or a shipped one (conversations/faq_defaults.py)
    edited or withdrawn under its key.

    `published` is what users get ({title, questions, keywords, answer, buttons}); `draft` is an edit
    not yet published. A shipped entry with no row, or whose row was never published, answers as
    shipped. Answers hold no personal data.
    """

    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    published: Mapped[dict[str, Any] | None]
    draft: Mapped[dict[str, Any] | None]
    position: Mapped[int] = mapped_column(default=0)
    withdrawn_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    published_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    updated_at: Mapped[datetime] = stamped(on_update=True)

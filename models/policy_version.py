from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, stamped


class PolicyVersion(Base):
    """A version of the operating policy published from the console.

    Shipped Markdown files (POLICY_DIR) and these rows together are the policy's versions; rows
    live in the database so every web process and worker, on every host, sees a publication at
    once. A published row is never edited: a correction is a new version.
    """

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Two versions in force from one day would leave "the version in force" undecided.
    effective: Mapped[date] = mapped_column(unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    body_markdown: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = stamped()
    published_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))

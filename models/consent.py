from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped


class PolicyConsent(Base):
    """One answer to one version of the operating policy: agreed or declined, when, and how."""

    __tablename__ = "policy_consents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("line_users.id"))
    policy_version: Mapped[str] = mapped_column(String(40))
    agreed: Mapped[bool]
    method: Mapped[str] = mapped_column(String(20), default="button")
    created_at: Mapped[datetime] = stamped()

    __table_args__ = (Index("ix_policy_consents_user", "user_id", "created_at"),)

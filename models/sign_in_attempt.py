from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped


class SignInAttempt(Base):
    """One password sign-in attempt to the console, for throttling by e-mail address and IP.

    Kept in the database so the limit holds across every web process; old rows are pruned.
    The audit log keeps the lasting record.
    """

    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(45))
    at: Mapped[datetime] = stamped()
    succeeded: Mapped[bool]

    __table_args__ = (Index("ix_sign_in_attempts_email_ip_at", "email", "ip", "at"),)

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, stamped

ADMIN, COUNSELLOR, VIEWER = "admin", "counsellor", "viewer"
ROLES = (ADMIN, COUNSELLOR, VIEWER)


class Operator(Base):
    """A person who may sign in to the operator console (/console), with one role.

    Rows are never deleted (the audit log refers to them): an operator who leaves is deactivated.
    """

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased. An Entra ID account is bound to the operator with this address at its
    # first sign-in; from then on it is matched on entra_tid and entra_oid, never on the address.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(12))
    # An argon2id hash; None for an operator who signs in only through Entra ID.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # For a counsellor: the counsellor whose bookings (and booked users) they may see.
    counsellor_id: Mapped[int | None] = mapped_column(ForeignKey("counsellors.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every console session; bumping it (deactivation, new password) ends every session.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = stamped()
    last_sign_in_at: Mapped[datetime | None]
    # The Entra ID account (object id and tenant id claims) bound at its first sign-in.
    entra_oid: Mapped[str | None] = mapped_column(String(36))
    entra_tid: Mapped[str | None] = mapped_column(String(36))
    # Set after too many failed password sign-ins to this address; only an admin lifts it.
    locked_at: Mapped[datetime | None]
    # Marked by the operator in the console: chat consultation is open only while someone is.
    chat_available: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (CheckConstraint("role IN ('admin', 'counsellor', 'viewer')", name="role"),
                      Index("uq_operators_entra_oid", "entra_tid", "entra_oid", unique=True))

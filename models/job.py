from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped

PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"
ACTIVE = (PENDING, RUNNING)


class Job(Base):
    """A unit of background work, written in the same transaction as the change that needs it.

    Jobs sharing a `queue_key` run one at a time in id order (one user's events, one user's
    outgoing messages); jobs without one run as soon as a worker is free.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    queue_key: Mapped[str | None] = mapped_column(String(120))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    run_at: Mapped[datetime] = stamped()
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = stamped()
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        # The claim reads live jobs in id order from here, however many finished ones pile up.
        Index(
            "ix_jobs_live_id",
            "id",
            postgresql_where=text("status IN ('pending', 'running')"),
            sqlite_where=text("status IN ('pending', 'running')"),
        ),
        # The claim's check for an older live job of the same queue.
        Index(
            "ix_jobs_live_queue",
            "queue_key",
            "id",
            postgresql_where=text("status IN ('pending', 'running')"),
            sqlite_where=text("status IN ('pending', 'running')"),
        ),
        Index(
            "ix_jobs_live_due",
            "run_at",
            postgresql_where=text("status IN ('pending', 'running')"),
            sqlite_where=text("status IN ('pending', 'running')"),
        ),
        Index("ix_jobs_status", "status"),
        # The retention purge deletes finished jobs by age. Partial: a new job adds no entry.
        Index("ix_jobs_finished_at", "finished_at", postgresql_where=text("finished_at IS NOT NULL"),
              sqlite_where=text("finished_at IS NOT NULL")),
    )

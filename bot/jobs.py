"""A job queue in the application's own database (transactional outbox).

A job is inserted in the same transaction as the change that needs it, so the two commit or
vanish together. Workers on any host claim jobs with a lease: on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, on SQLite under its single write lock. A job whose worker died is
claimed again once its lease has passed. Jobs sharing a `queue_key` run strictly one at a time
in the order they were created: a job is claimable only when no older job of its key is still
pending or running.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from models import Job, utcnow
from models.job import ACTIVE, DEAD, DONE, PENDING, RUNNING


class RetryLater(Exception):
    """The job could not finish now; try again after `delay` seconds (or the usual backoff)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class GiveUp(Exception):
    """The job can never succeed; retrying would only repeat the failure."""


class LeaseLost(Exception):
    """Another worker took this job over (our lease had run out); our work must not commit."""


@dataclass(frozen=True)
class Claim:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    lease_token: str
    queue_key: str | None


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    queue_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 8,
) -> Job:
    job = Job(
        kind=kind,
        payload=payload,
        queue_key=queue_key,
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
        status=PENDING,
        attempts=0,
    )
    session.add(job)
    return job


def backoff_seconds(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with jitter, so retries of many jobs do not arrive in lockstep."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


def claim(session: Session, *, lease_seconds: float, limit: int = 1) -> list[Claim]:
    """Take up to `limit` due jobs for this worker. Commit the session to make the claim stick."""
    now = utcnow()
    j = aliased(Job)
    older = aliased(Job)
    older_live = exists().where(
        older.queue_key == j.queue_key,
        older.id < j.id,
        older.status.in_(ACTIVE),
    )
    due = or_(
        and_(j.status == PENDING, j.run_at <= now),
        and_(j.status == RUNNING, j.lease_until < now),
    )
    candidates = (
        select(j.id)
        .where(due, or_(j.queue_key.is_(None), ~older_live))
        .order_by(j.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(of=j, skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    token = str(uuid.uuid4())
    rows = session.execute(
        update(Job)
        .where(Job.id.in_(ids))
        .values(
            status=RUNNING,
            lease_token=token,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=Job.attempts + 1,
        )
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts, Job.queue_key)
    ).all()
    return sorted(
        (Claim(r.id, r.kind, r.payload, r.attempts, r.max_attempts, token, r.queue_key) for r in rows),
        key=lambda c: c.id,
    )


def _finish(session: Session, claim: Claim, **values: Any) -> None:
    result = session.execute(
        update(Job)
        .where(Job.id == claim.id, Job.lease_token == claim.lease_token, Job.status == RUNNING)
        .values(**values)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"job {claim.id} is no longer ours")


def complete(session: Session, claim: Claim) -> None:
    """Mark the job done, in the same transaction as its effects."""
    _finish(session, claim, status=DONE, finished_at=utcnow(), lease_token=None, lease_until=None)


def fail(session: Session, claim: Claim, error: str, *, delay: float | None = None, final: bool = False) -> str:
    """Record a failed attempt: schedule a retry, or end the job as dead. Returns the new status."""
    if final or claim.attempts >= claim.max_attempts:
        _finish(session, claim, status=DEAD, finished_at=utcnow(), last_error=error[:2000],
                lease_token=None, lease_until=None)
        return DEAD
    wait = delay if delay is not None else backoff_seconds(claim.attempts)
    _finish(session, claim, status=PENDING, run_at=utcnow() + timedelta(seconds=wait),
            last_error=error[:2000], lease_token=None, lease_until=None)
    return PENDING


def counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {status: n for status, n in rows}


def dead_jobs(session: Session, limit: int = 50) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.status == DEAD).order_by(Job.id.desc()).limit(limit)))

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
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (String, and_, bindparam, case, cast, exists, func, insert, literal_column, or_, select, text,
                        true, update)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from models import Job
from models.database import now_in
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


@dataclass
class Running:
    """The job a worker thread is running now, as its handler sees it through `running`."""

    claim: Claim
    lease_seconds: float
    # Set when the handler completed the job in its own transaction (`complete_here`).
    completed: bool = False
    # Jobs the handler created already claimed by this worker, to run next on the same thread.
    handed_on: list[Claim] = field(default_factory=list)


running: ContextVar[Running | None] = ContextVar("running_job", default=None)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    queue_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 8,
    run_next: bool = False,
) -> int:
    """Queue a job in the caller's transaction; returns its id.

    `run_next`: inside a running job, the new job is created claimed by this worker, which runs it
    as soon as the current one ends, unless an older job of its queue is still live (then it
    waits its turn in the queue like any other). An answer so goes out without waiting for a
    claim; should the worker die first, the lease runs out and another worker takes the job.
    """
    current = running.get()
    now = now_in(session)
    values = {"kind": kind, "payload": payload, "queue_key": queue_key, "run_at": run_at or now,
              "max_attempts": max_attempts, "created_at": now}
    if not (run_next and current is not None and run_at is None):
        return session.scalar(_INSERT, {**values, "status": PENDING, "attempts": 0})
    token = current.claim.lease_token
    until = now + timedelta(seconds=current.lease_seconds)
    job_id, status = session.execute(_INSERT_TAKEN_UNLESS_BUSY if queue_key is not None else _INSERT_TAKEN,
                                     {**values, "busy_key": queue_key, "token": token, "until": until}).one()
    if status == RUNNING:
        current.handed_on.append(Claim(job_id, kind, payload, 1, max_attempts, token, queue_key))
    return job_id


# The hot path's statements are written against the table, not the mapped class: an ORM-enabled
# insert or update runs through the ORM's bulk machinery (and an update evaluates its criteria
# against the session's objects), which cost more than the statement itself.
JOBS = Job.__table__


# A database reads a partial index (ix_jobs_live_*) only for a query that holds the index's
# condition as written, not as parameters: the live statuses are named in the statements' text.
# Without that, each check of a user's queue read every live job (SQLite: at a backlog of
# thousands, the claim held the one write lock for tenths of seconds) or, on PostgreSQL once
# its prepared plan went generic, every job, finished ones too (2 ms per queued answer).
def _live(status: Any) -> Any:
    return status.in_([literal_column(f"'{s}'") for s in ACTIVE])


_TOKEN = bindparam("token", type_=JOBS.c.lease_token.type)
_UNTIL = bindparam("until", type_=JOBS.c.lease_until.type)


def _queue_free() -> Any:
    """No live job of the queue that this thread is not about to run itself (the jobs handed on in
    one chain carry the running job's own lease token; each claimed job has a token of its own)."""
    busy = JOBS.alias("busy").c
    return ~exists().where(busy.queue_key == bindparam("busy_key"), _live(busy.status),
                           or_(busy.lease_token.is_(None), busy.lease_token != _TOKEN))


def _taken_columns(take: Any) -> dict[str, Any]:
    """One statement decides and writes: claimed by this worker when `take`, else pending."""
    return {"status": case((take, RUNNING), else_=PENDING), "attempts": case((take, 1), else_=0),
            "lease_token": case((take, _TOKEN), else_=None), "lease_until": case((take, _UNTIL), else_=None)}


# Built once: building an insert per job cost more than running it.
_INSERT = insert(JOBS).returning(JOBS.c.id)
_INSERT_TAKEN_UNLESS_BUSY, _INSERT_TAKEN = (insert(JOBS).values(_taken_columns(take)).returning(JOBS.c.id, JOBS.c.status)
                                            for take in (_queue_free(), true()))


def next_in_statement(source: Any, payload: Any) -> Any:
    """PostgreSQL: `enqueue(..., queue_key=..., run_next=True)` as part of a statement (a CTE) whose
    `source`, a row written by the same statement, gives the job's `payload`: the queued answer and
    its delivery in one statement. Returns (id, status); its parameters: `next_params`."""
    now = bindparam("job_now", type_=JOBS.c.run_at.type)
    columns = {"kind": bindparam("job_kind", type_=JOBS.c.kind.type), "payload": payload,
               "queue_key": bindparam("busy_key", type_=JOBS.c.queue_key.type), "run_at": now, "created_at": now,
               "max_attempts": bindparam("job_max_attempts", type_=JOBS.c.max_attempts.type),
               **_taken_columns(_queue_free())}
    return (insert(JOBS).from_select(list(columns), select(*columns.values()).select_from(source))
            .returning(JOBS.c.id, JOBS.c.status))


def next_params(session: Session, kind: str, queue_key: str, max_attempts: int) -> dict[str, Any] | None:
    """The parameters of `next_in_statement` (None: no job is running, so nothing runs next)."""
    current = running.get()
    if current is None:
        return None
    now = now_in(session)
    return {"job_kind": kind, "busy_key": queue_key, "job_now": now, "job_max_attempts": max_attempts,
            "token": current.claim.lease_token, "until": now + timedelta(seconds=current.lease_seconds)}


def queued_next(job_id: int, status: str, params: dict[str, Any], payload: dict[str, Any]) -> None:
    """What `next_in_statement` wrote: a job taken by this worker runs next on this thread."""
    current = running.get()
    if status == RUNNING and current is not None:
        current.handed_on.append(Claim(job_id, params["job_kind"], payload, 1, params["job_max_attempts"],
                                       params["token"], params["busy_key"]))


def complete_here(session: Session) -> None:
    """Mark the running job done in the caller's transaction, with its effects (one transaction
    fewer per job; if the transaction rolls back, so does the mark)."""
    current = running.get()
    if current is not None:
        complete(session, current.claim)
        current.completed = True


def backoff_seconds(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with jitter, so retries of many jobs do not arrive in lockstep."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


# How many live jobs, oldest first, one claim query looks at. Its cost follows this, not the
# backlog: planned over the whole backlog, the claim took 80 ms at 30,000 pending jobs, and the
# workers spent the burst claiming instead of answering.
CLAIM_WINDOW = 200


def _claim_statements(sqlite: bool = False) -> tuple[Any, Any]:
    """The claim's statements, built once (building them per claim cost more than running them)."""
    if sqlite:  # without statistics, SQLite read and sorted every live job by status for the window
        window = (text(f"SELECT id FROM {JOBS.name} INDEXED BY ix_jobs_live_id WHERE status IN ('pending', 'running') "
                       f"AND id > :after ORDER BY id LIMIT {CLAIM_WINDOW}").columns(JOBS.c.id).subquery("window"))
    else:
        window = (select(JOBS.c.id).where(_live(JOBS.c.status), JOBS.c.id > bindparam("after"))
                  .order_by(JOBS.c.id).limit(CLAIM_WINDOW).subquery())
    candidate = JOBS.alias("candidate")
    j = candidate.c
    older = JOBS.alias("older").c
    older_live = exists().where(older.queue_key == j.queue_key, older.id < j.id, _live(older.status))
    now = bindparam("now", type_=JOBS.c.run_at.type)
    due = or_(and_(j.status == PENDING, j.run_at <= now), and_(j.status == RUNNING, j.lease_until < now))
    claimable = (select(j.id).join(window, j.id == window.c.id)
                 .where(due, or_(j.queue_key.is_(None), ~older_live))
                 .order_by(j.id).limit(bindparam("limit")))
    window_end = select(func.count(), func.max(window.c.id))
    return claimable.with_for_update(of=candidate, skip_locked=True), window_end


# A queue table's statistics are always out of date (a burst fills it within seconds), and with
# them PostgreSQL's planner chose to collect and sort the whole backlog on every claim instead of
# reading live jobs in id order from their index: `Database.queue()` connections plan without
# bitmap scans and sorts.
# One statement finds and takes the jobs (FOR UPDATE SKIP LOCKED: two workers never take the same).
# Each job gets a lease token of its own, the claim's random part and its id: the jobs of one claim
# run on different threads, and a job handed on (`enqueue(run_next=True)`) treats a live job of its
# queue holding its own token as its own chain's. A token shared by the whole claim would let a
# delivery claimed with the user's next turn count as "ours", and that turn's answer could then
# overtake the previous one on another thread.
def _take(claimable_locked: Any) -> Any:
    return (update(JOBS).where(JOBS.c.id.in_(claimable_locked.scalar_subquery()))
            .values(status=RUNNING, lease_token=bindparam("token") + ":" + cast(JOBS.c.id, String),
                    lease_until=bindparam("until", type_=JOBS.c.lease_until.type), attempts=JOBS.c.attempts + 1)
            .returning(JOBS.c.id, JOBS.c.kind, JOBS.c.payload, JOBS.c.attempts, JOBS.c.max_attempts,
                       JOBS.c.queue_key, JOBS.c.lease_token))


# (take, window end), by whether the database is SQLite.
_CLAIM = tuple((_take(claimable), window_end) for claimable, window_end in map(_claim_statements, (False, True)))


def claim(connection: Connection, *, now: datetime, lease_seconds: float, limit: int = 1) -> list[Claim]:
    """Take up to `limit` jobs due by `now` for this worker, on a connection from `Database.queue()`."""
    # 16 hex digits, ':' and an id of up to 19 digits fit the column's 36 characters.
    token = uuid.uuid4().hex[:16]
    params = {"now": now, "limit": limit, "token": token, "until": now + timedelta(seconds=lease_seconds)}
    after = 0
    take, window_end = _CLAIM[connection.dialect.name == "sqlite"]
    while True:
        rows = connection.execute(take, {**params, "after": after}).all()
        if rows:
            break
        # Nothing claimable among these (each blocked by an older job of its queue, or not yet
        # due): look further only when the window was full.
        seen, last = connection.execute(window_end, {"after": after}).one()
        if seen < CLAIM_WINDOW:
            return []
        after = last
    return sorted(
        (Claim(r.id, r.kind, r.payload, r.attempts, r.max_attempts, r.lease_token, r.queue_key) for r in rows),
        key=lambda c: c.id,
    )


def _finish(session: Session, claim: Claim, **values: Any) -> None:
    result = session.execute(
        update(JOBS)
        .where(JOBS.c.id == claim.id, JOBS.c.lease_token == claim.lease_token, JOBS.c.status == RUNNING)
        .values(**values)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"job {claim.id} is no longer ours")


_COMPLETE = (update(JOBS)
             .where(JOBS.c.id == bindparam("job_id"), JOBS.c.lease_token == bindparam("token"), JOBS.c.status == RUNNING)
             .values(status=DONE, finished_at=bindparam("now", type_=JOBS.c.finished_at.type), lease_token=None,
                     lease_until=None))


# PostgreSQL: the completion as part of the statement that writes the job's effect (a CTE), one
# statement fewer on the busiest paths; `completed_here` checks what it returned.
COMPLETE_CTE = _COMPLETE.returning(JOBS.c.id).cte("completed_job")


def completion_params(session: Session) -> dict[str, Any] | None:
    """The parameters of COMPLETE_CTE for the running job (None: no job is running)."""
    current = running.get()
    if current is None:
        return None
    return {"job_id": current.claim.id, "token": current.claim.lease_token, "now": now_in(session)}


def completed_here(completed: int) -> None:
    """COMPLETE_CTE marked `completed` jobs done in the caller's statement: the running job, or
    another worker holds it now."""
    current = running.get()
    if completed != 1:
        raise LeaseLost(f"job {current.claim.id if current else '?'} is no longer ours")
    if current is not None:
        current.completed = True


def complete(session: Session, claim: Claim) -> None:
    """Mark the job done, in the same transaction as its effects."""
    result = session.execute(_COMPLETE, {"job_id": claim.id, "token": claim.lease_token, "now": now_in(session)})
    if result.rowcount != 1:
        raise LeaseLost(f"job {claim.id} is no longer ours")


# COMPLETE_CTE in SQL for a driver's cursor on PostgreSQL, as a data-modifying CTE named `done` (one
# row when the job was still ours): a handler's final record joined to it (`... FROM done`) is
# written with the job's completion in one statement, atomic in autocommit without a transaction
# of its own (handlers/delivery_store.py). Its parameters: `job_id`, `token` and `now`.
COMPLETE_CTE_SQL = f"""done AS (
    UPDATE {JOBS.name} SET status = '{DONE}', finished_at = %(now)s, lease_token = NULL, lease_until = NULL
    WHERE id = %(job_id)s AND lease_token = %(token)s AND status = '{RUNNING}'
    RETURNING id
)"""


def fail(session: Session, claim: Claim, error: str, *, delay: float | None = None, final: bool = False) -> str:
    """Record a failed attempt: schedule a retry, or end the job as dead. Returns the new status."""
    if final or claim.attempts >= claim.max_attempts:
        _finish(session, claim, status=DEAD, finished_at=now_in(session), last_error=error[:2000],
                lease_token=None, lease_until=None)
        return DEAD
    wait = delay if delay is not None else backoff_seconds(claim.attempts)
    _finish(session, claim, status=PENDING, run_at=now_in(session) + timedelta(seconds=wait),
            last_error=error[:2000], lease_token=None, lease_until=None)
    return PENDING


def counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {status: n for status, n in rows}


def dead_jobs(session: Session, limit: int = 50) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.status == DEAD).order_by(Job.id.desc()).limit(limit)))

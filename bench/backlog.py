"""The job queue between the bench's phases: how full it is, waiting for it to empty, and dropping the
events a flood left behind so the next phase starts on an idle queue."""

from __future__ import annotations

import time

from sqlalchemy import func, select, update

from bench import report
from bench.line import BenchLine
from bench.processes import log
from bot.clock import system_clock
from bot.line.ingest import EVENT_JOB
from models import Job
from models.database import Database


def queue_counts(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        return dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())


def wait_idle(db: Database, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = queue_counts(db)
        if not counts.get("pending") and not counts.get("running"):
            return True
        time.sleep(1)
    log(f"the queue was not idle within {timeout:.0f} s: {queue_counts(db)}")
    return False


def drop_backlog(db: Database, timeout: float) -> int:
    """Mark the events the workers had not yet started as done (the ingress phases post far more
    than the workers turn), then wait for the turns in progress and their deliveries."""
    with db.transaction() as session:
        dropped = session.execute(
            update(Job).where(Job.status == "pending", Job.kind == EVENT_JOB)
            .values(status="done", finished_at=system_clock(), last_error="dropped by the benchmark")).rowcount
    wait_idle(db, timeout)
    return dropped


def wait_answered(line: BenchLine, posts: list[report.Post], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies, pushes = line.calls.snapshot()
        if len(report.match_answers(posts, replies, pushes)) >= len(posts):
            return
        time.sleep(0.5)

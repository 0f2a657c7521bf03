"""What the database says about the service right now, for /readyz and the metrics scrape.

These reads go through a small engine of their own with short timeouts: a probe must answer
quickly even when the database does not (the service's engine waits as long as the OS lets a
connection attempt run), and on SQLite it must not queue for the write lock that every service
transaction takes (BEGIN IMMEDIATE); WAL lets it read beside the writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    Connection,
    Engine,
    case,
    create_engine,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.engine import make_url

from models import Booking, DeskSetting, Job, OperatorAlert
from models.job import DEAD, PENDING, RUNNING

PROBE_TIMEOUT_SECONDS = 2


def probe_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        args = {"timeout": PROBE_TIMEOUT_SECONDS, "check_same_thread": False}
        return create_engine(url, connect_args=args, hide_parameters=True, pool_size=1, max_overflow=1)
    args = {"connect_timeout": PROBE_TIMEOUT_SECONDS}
    return create_engine(url, connect_args=args, hide_parameters=True, pool_size=1, max_overflow=1,
                         pool_timeout=PROBE_TIMEOUT_SECONDS, pool_pre_ping=True)


class Probe:
    """One process's probe engine, made on first use (a web process that is never probed holds no
    connection for it)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._engine: Engine | None = None

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        if self._engine is None:
            self._engine = probe_engine(self._url)
        with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # Per transaction (never rolled into a commit), so it also holds behind PgBouncer,
                # which refuses a startup `options` parameter.
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {PROBE_TIMEOUT_SECONDS * 1000}")
            yield conn


def ping(conn: Connection) -> None:
    conn.execute(text("SELECT 1"))


def oldest_due_age(conn: Connection, now: datetime) -> float:
    """Seconds the oldest due pending job has waited past its run_at (0 when none is due)."""
    oldest = conn.scalar(select(func.min(Job.run_at)).where(Job.status == PENDING, Job.run_at <= now))
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


@dataclass(frozen=True)
class Snapshot:
    jobs: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, status) → count; done left out
    oldest_due_seconds: float = 0.0
    bookings: dict[str, int] = field(default_factory=dict)  # status → count
    open_alerts: int = 0
    # LINE's monthly quota left, as a share of the limit (handlers/quota.py's cache); None: unknown
    # this month, or no limit.
    quota_remaining: float | None = None


def quota_remaining(value: dict | None, now: datetime) -> float | None:
    from zoneinfo import ZoneInfo

    value = value or {}
    limit, used = value.get("limit"), value.get("used")
    if value.get("month") != now.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m") or not limit or used is None:
        return None
    return max(0.0, 1 - used / limit)


def take(conn: Connection, now: datetime) -> Snapshot:
    """Two grouped queries: live and dead jobs, then bookings by status with the open alerts."""
    due = case((Job.run_at <= now, Job.run_at))
    jobs = conn.execute(
        select(Job.kind, Job.status, func.count(), func.min(due))
        .where(Job.status.in_((PENDING, RUNNING, DEAD)))
        .group_by(Job.kind, Job.status)
    ).all()
    oldest = min((row[3] for row in jobs if row[1] == PENDING and row[3] is not None), default=None)
    rows = conn.execute(union_all(
        select(literal("booking"), Booking.status, func.count()).group_by(Booking.status),
        select(literal("alert"), literal("open"), func.count()).where(OperatorAlert.resolved_at.is_(None)),
    )).all()
    return Snapshot(
        jobs={(kind, status): n for kind, status, n, _ in jobs},
        oldest_due_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        bookings={status: n for what, status, n in rows if what == "booking"},
        open_alerts=sum(n for what, _, n in rows if what == "alert"),
        quota_remaining=quota_remaining(
            conn.scalar(select(DeskSetting.value).where(DeskSetting.key == "line_quota")), now),
    )

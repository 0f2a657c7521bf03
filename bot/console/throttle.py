"""Password sign-in throttling, checked and recorded in one step.

- Per address and IP: after LIMIT failures within WINDOW that pair is refused for LOCKOUT, even with
  the right password.
- Per address, from any IP (a client that rotates addresses): after ACCOUNT_FREE failures since the
  last success, each further try must wait twice as long as the one before (up to MAX_DELAY); after
  ACCOUNT_LOCK failures the operator is locked until an admin lifts it (`operator-unlock`).

An attempt is recorded as failed before the password is checked and marked a success afterwards, in
a transaction that first takes a lock on the address, so parallel requests cannot pass the check
together: each one sees the others. Attempts live in the database, so the limits hold across every
web process. Refused attempts are audited but not counted (a refusal never extends the wait).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from models import Operator, SignInAttempt

LIMIT = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
ACCOUNT_FREE = 5
ACCOUNT_LOCK = 20
MAX_DELAY = timedelta(minutes=15)
KEEP = timedelta(days=1)  # attempts older than this are pruned

THROTTLED, DELAYED, LOCKED = "throttled", "account_delay", "account_locked"


def _serialise(session: Session, email: str) -> None:
    # SQLite: every transaction here already holds the write lock (BEGIN IMMEDIATE).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": "sign-in:" + email})


def _failures_since_success(rows: list[tuple[datetime, bool]]) -> list[datetime]:
    failures: list[datetime] = []
    for at, succeeded in rows:
        failures = [] if succeeded else failures + [at]
    return failures


def pair_locked_until(session: Session, email: str, ip: str, now: datetime) -> datetime | None:
    """When the lockout of this address and IP ends, or None when they may try now."""
    rows = session.execute(
        select(SignInAttempt.at, SignInAttempt.succeeded)
        .where(SignInAttempt.email == email, SignInAttempt.ip == ip,
               SignInAttempt.at > now - WINDOW - LOCKOUT)
        .order_by(SignInAttempt.at, SignInAttempt.id)
    ).all()
    failures = _failures_since_success(rows)
    until = None
    for i in range(LIMIT - 1, len(failures)):  # failures are in time order: the last lockout wins
        if failures[i] - failures[i - LIMIT + 1] <= WINDOW:
            until = failures[i] + LOCKOUT
    return until if until is not None and until > now else None


def account_wait(failures: int) -> timedelta:
    """How long after its last failure an address may try again."""
    if failures < ACCOUNT_FREE:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - ACCOUNT_FREE)), MAX_DELAY)


def begin(session: Session, email: str, ip: str, now: datetime) -> tuple[str | None, int | None]:
    """Check the limits and record the attempt as failed, in one step. Returns why it is refused
    (and nothing is recorded), or None and the attempt's id to `settle` once the password is known."""
    _serialise(session, email)
    operator = session.scalar(select(Operator).where(Operator.email == email)) if email else None
    if operator is not None and operator.locked_at is not None:
        return LOCKED, None
    if pair_locked_until(session, email, ip, now) is not None:
        return THROTTLED, None
    rows = session.execute(select(SignInAttempt.at, SignInAttempt.succeeded)
                           .where(SignInAttempt.email == email, SignInAttempt.at > now - KEEP)
                           .order_by(SignInAttempt.at, SignInAttempt.id)).all()
    failures = _failures_since_success(rows)
    if len(failures) >= ACCOUNT_LOCK:
        if operator is not None:
            operator.locked_at = now
        return LOCKED, None
    if failures and now < failures[-1] + account_wait(len(failures)):
        return DELAYED, None
    attempt = SignInAttempt(email=email, ip=ip, at=now, succeeded=False)
    session.add(attempt)
    session.flush()
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - KEEP))
    return None, attempt.id


def settle(session: Session, attempt_id: int, succeeded: bool) -> None:
    if succeeded:
        session.execute(update(SignInAttempt).where(SignInAttempt.id == attempt_id).values(succeeded=True))


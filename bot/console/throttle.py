"""Password sign-in throttling: after LIMIT failures for one e-mail address from one IP within
WINDOW, that pair is refused for LOCKOUT, even with the right password.

Attempts live in the database, so the limit holds across every web process. A success wipes the
slate for the pair; refused attempts are audited but not counted (the lockout does not extend).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import SignInAttempt

LIMIT = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
KEEP = timedelta(days=1)  # attempts older than this are pruned


def locked_until(session: Session, email: str, ip: str, now: datetime) -> datetime | None:
    """When the lockout of this address and IP ends, or None when they may try now."""
    rows = session.execute(
        select(SignInAttempt.at, SignInAttempt.succeeded)
        .where(SignInAttempt.email == email, SignInAttempt.ip == ip,
               SignInAttempt.at > now - WINDOW - LOCKOUT)
        .order_by(SignInAttempt.at, SignInAttempt.id)
    ).all()
    failures: list[datetime] = []
    for at, succeeded in rows:
        failures = [] if succeeded else failures + [at]
    until = None
    for i in range(LIMIT - 1, len(failures)):  # failures are in time order: the last lockout wins
        if failures[i] - failures[i - LIMIT + 1] <= WINDOW:
            until = failures[i] + LOCKOUT
    return until if until is not None and until > now else None


def record(session: Session, email: str, ip: str, succeeded: bool, now: datetime) -> None:
    session.add(SignInAttempt(email=email, ip=ip, at=now, succeeded=succeeded))
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - KEEP))

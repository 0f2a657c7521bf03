"""The service's one clock: every business rule asks it what time it is.

`Services` owns one and hands it to everything it builds (the database's row stamps, the desk,
the console, the CLI, the scheduler, retention, statistics). Tests replace it with a
`FrozenClock`, so the suite gives the same answers on any day. This module is the only one that
reads the wall clock (tests/test_clock_boundary.py enforces it); monotonic timers for timeouts
and backoff are not business time and stay where they are.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

# What every consumer takes: a callable that returns an aware UTC datetime.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The machine's time, as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class FrozenClock:
    """A clock that stands still at a chosen moment until it is set or advanced; with `tick`, it
    moves on from that moment at the speed of real time (for tests whose workers retry)."""

    def __init__(self, at: datetime, *, tick: bool = False) -> None:
        self._lock = threading.Lock()
        self._tick = tick
        self.set(at)

    def __call__(self) -> datetime:
        with self._lock:
            if not self._tick:
                return self._at
            return self._at + timedelta(seconds=time.monotonic() - self._since)

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a clock is set to an aware datetime")
        with self._lock:
            self._at, self._since = at.astimezone(timezone.utc), time.monotonic()

    def advance(self, by: timedelta) -> datetime:
        self.set(self() + by)
        return self()

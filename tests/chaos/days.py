"""The fault suite's calendar. The run lives on a fixed Tuesday morning, the run's own process and
every service process alike, so its sessions can be booked for the next day (before the cut-off).
Midway through, the night passes: the service stops, every clock moves on one day and the service
starts again. The bookings made for that Wednesday are then today's, and the population can say
遅れる・参加できない on the day, as issue 19's same-day contact needs.

The service processes travel with tests/support/machine_date/sitecustomize.py (the same mechanism
as the suite's moved machine date); this process travels with time-machine directly.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

import time_machine

from tests.support.chat import TUESDAY_MORNING

MACHINE_DATE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "support", "machine_date")


class Calendar:
    def __init__(self, start: datetime = TUESDAY_MORNING) -> None:
        self._travel = time_machine.travel(start, tick=True)
        self._traveller = self._travel.start()
        self.days_passed = 0

    def service_env(self, env: dict[str, str]) -> dict[str, str]:
        """`env` with the clock shift that puts a new process on this process's moved time."""
        shift = time.time() - time_machine.escape_hatch.time.time()
        path = [MACHINE_DATE] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != MACHINE_DATE]
        return {**env, "DESK_TEST_MACHINE_SHIFT": str(shift), "PYTHONPATH": os.pathsep.join(path)}

    def next_day(self) -> None:
        self._traveller.shift(timedelta(days=1))
        self.days_passed += 1

    def close(self) -> None:
        self._travel.stop()

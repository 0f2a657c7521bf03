"""Moves the wall clock of every Python process a test run starts by the same shift, so that the
test process, the xdist workers, gunicorn, the worker processes and `make run` all live on the
machine date that DESK_TEST_MACHINE_DATE names, in step with one another.

tests/conftest.py sets DESK_TEST_MACHINE_SHIFT (seconds) once and puts this folder on PYTHONPATH;
Python imports `sitecustomize` at start-up, before any of the project's code. Only the wall clock
moves: monotonic time, which timeouts and sleeps use, is left alone (libfaketime moves both and
leaves Python's timed waits hanging: docs/reliability.md).
"""

from __future__ import annotations

import os
import time

TRAVELLING = False


def start() -> None:
    global TRAVELLING
    shift = os.environ.get("DESK_TEST_MACHINE_SHIFT")
    if TRAVELLING or not shift:
        return
    import time_machine  # a dev dependency: only a test run sets the shift

    time_machine.travel(time.time() + float(shift), tick=True).start()
    TRAVELLING = True


start()

"""The fault suite's faults: the fake LINE and the fake Graph failing at a rate, and the schedule
that takes Graph down and SIGKILLs workers during the run."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.chaos.driver import ACCESS_TOKEN, ORGANIZER
from tests.support.fake_entra import FakeEntra
from tests.support.fake_graph import FakeGraph
from tests.support.fake_line import LOADING, PUSH, REPLY, FakeLine

if TYPE_CHECKING:
    from tests.chaos.driver import Driver, Size


# -- the fakes, with faults at a rate ------------------------------------------------------------

class _IndexedCalls(list):
    """The fake LINE's call list, indexed on the way in by reply token, retry key and pushed-to user
    (accepted only)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.replies: dict[str, list[Any]] = defaultdict(list)
        self.pushes: dict[str, list[Any]] = defaultdict(list)
        self.pushed_to: dict[str, list[Any]] = defaultdict(list)  # by user: what a chatting user waits for
        self.conflicts: dict[str, int] = defaultdict(int)

    def append(self, call: Any) -> None:
        with self.lock:
            super().append(call)
            if call.path == REPLY and call.status == 200:
                self.replies[str(call.body.get("replyToken"))].append(call)
            elif call.path == PUSH:
                key = {k.lower(): v for k, v in call.headers.items()}.get("x-line-retry-key", "")
                if call.status == 200:
                    self.pushes[key].append(call)
                    self.pushed_to[str(call.body.get("to"))].append(call)
                elif call.status == 409:
                    self.conflicts[key] += 1


class ChaoticLine(FakeLine):
    """The fake LINE answering 429/500 to a share of Messaging API calls and stalling on some
    (each stall shorter than the bot's read timeout: slow, not lost)."""

    def __init__(self, size: Size, rng: random.Random) -> None:
        super().__init__(ACCESS_TOKEN)
        self.calls = _IndexedCalls()
        self._rng, self._size, self._rng_lock = rng, size, threading.Lock()
        self.injected: Counter = Counter()

    def _next_fault(self, path: str) -> Any:
        scripted = super()._next_fault(path)
        if scripted is not None or path not in (REPLY, PUSH, LOADING):
            return scripted
        with self._rng_lock:
            roll = self._rng.random()
            if roll < self._size.line_fault_rate:
                fault: Any = self._rng.choice((429, 500))
            elif roll < self._size.line_fault_rate + self._size.line_stall_rate:
                fault = (self._rng.choice(("stall", "accept_then_stall")), round(self._rng.uniform(0.2, 2.0), 2))
            else:
                return None
        self.injected[fault if isinstance(fault, int) else fault[0]] += 1
        return fault


class ChaoticGraph(FakeGraph):
    """The fake Graph answering 429 (Retry-After) or 503 to a share of calls."""

    def __init__(self, entra: FakeEntra, size: Size, rng: random.Random) -> None:
        super().__init__(entra, organizers={ORGANIZER})
        self._rng, self._size, self._rng_lock = rng, size, threading.Lock()
        self.injected: Counter = Counter()

    def _next_fault(self, kind: str) -> Any:
        scripted = super()._next_fault(kind)
        if scripted is not None:
            return scripted
        with self._rng_lock:
            if self._rng.random() >= self._size.graph_fault_rate:
                return None
            fault = self._rng.choice((429, 503))
        self.injected[fault] += 1
        return fault


# -- faults on a schedule ------------------------------------------------------------------------

def disturb(driver: Driver, graph: ChaoticGraph, log, night: Callable[[], None] | None = None) -> threading.Thread:
    """Take Graph down once midway, kill a worker at evenly spaced points of the run and let the
    night pass once the first users have booked (`night`: the service restarted a day later)."""
    size = driver.size
    kill_points = [size.events * (k + 1) // (size.kills + 1) for k in range(size.kills)]
    down_at = size.events // 2
    night_at = size.events * 7 // 10 if night else None
    # The first date's slots go to the first users who book; the night must come while they still
    # have events left, so it comes once that many have booked (or at seven tenths at the latest).
    night_after_bookings = min(20, size.users * 2 // 5)

    def loop() -> None:
        try:
            faults()
        except Exception as e:  # noqa: BLE001 (a fault the run could not make stops it and is reported)
            driver.fault_errors.append(f"{type(e).__name__}: {e}")
            driver.stop.set()

    def faults() -> None:
        nonlocal night_at
        down_done, kills_done = False, 0
        while not driver.stop.is_set() and (not down_done or kills_done < len(kill_points) or night_at is not None):
            posted = driver.tally.posted
            if not down_done and posted >= down_at:
                graph.down(size.graph_down_seconds)
                driver.graph_went_down = True
                log(f"graph down for {size.graph_down_seconds:.0f} s at event {posted}")
                down_done = True
            if kills_done < len(kill_points) and posted >= kill_points[kills_done]:
                index = kills_done % len(driver.service.workers)
                driver.service.kill_worker(index)
                log(f"worker {index} SIGKILLed and restarted at event {posted}")
                kills_done += 1
            if night_at is not None and (posted >= night_at
                                         or len(driver.tally.confirmed_users) >= night_after_bookings):
                night()
                log(f"the night passed at event {posted} ({len(driver.tally.confirmed_users)} users with a booking): "
                    "the service restarted a day later")
                night_at = None
            driver.stop.wait(0.2)

    thread = threading.Thread(target=loop, name="disturb", daemon=True)
    thread.start()
    return thread

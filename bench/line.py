"""The bench's fake LINE platform: FakeLine answering every call after a set delay, and keeping only
when each answer arrived.

The delay stands for the Messaging API's round trip over the internet (`--line-latency`, 50 ms by
default): against a fake on loopback that answers at once, a worker thread waiting on LINE costs
nothing, which hides how many turns the workers' threads can carry. FakeLine's server is
werkzeug's threaded server (a daemon thread per connection), so each call sleeps in its own thread
and concurrent calls are delayed side by side, not one after another.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from typing import Any

from tests.support.fake_line import PUSH, REPLY, FakeLine

ACCESS_TOKEN = "bench-access-token"
DEFAULT_LATENCY_MS = 50.0


class _Arrivals(list):
    """Stands in for FakeLine.calls: keeps no bodies (the bench makes tens of thousands of calls),
    only the first accepted reply per token and every accepted push per user, with their times."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.replies: dict[str, float] = {}
        self.pushes: dict[str, list[float]] = defaultdict(list)
        self.keyed: dict[str, float] = {}  # the first accepted push per retry key (the operator's messages)
        self.counts: Counter = Counter()

    def append(self, call: Any) -> None:
        now = time.monotonic()
        with self.lock:
            self.counts[(call.path, call.status)] += 1
            if call.path == REPLY and call.status == 200:
                self.replies.setdefault(str(call.body.get("replyToken")), now)
            elif call.path == PUSH and call.status == 200:
                self.pushes[str(call.body.get("to"))].append(now)
                key = next((v for k, v in call.headers.items() if k.lower() == "x-line-retry-key"), None)
                if key:
                    self.keyed.setdefault(key, now)

    def snapshot(self) -> tuple[dict[str, float], dict[str, list[float]]]:
        with self.lock:
            return dict(self.replies), {k: list(v) for k, v in self.pushes.items()}

    def keyed_snapshot(self) -> dict[str, float]:
        with self.lock:
            return dict(self.keyed)


class _Discard(list):
    def append(self, _item: Any) -> None:
        pass


class BenchLine(FakeLine):
    def __init__(self, latency_ms: float = DEFAULT_LATENCY_MS) -> None:
        if latency_ms < 0:
            raise ValueError("the fake LINE's latency cannot be negative")
        self.latency = latency_ms / 1000  # set before the server starts taking calls
        super().__init__(ACCESS_TOKEN)
        self.calls = _Arrivals()
        self.arrivals = _Discard()

    def _wsgi(self, environ, start_response):
        # The whole round trip before the call is carried out: an answer is recorded as arrived no
        # sooner than the service could have heard back from LINE, so the delay is in every turn's time.
        if self.latency:
            time.sleep(self.latency)
        return super()._wsgi(environ, start_response)

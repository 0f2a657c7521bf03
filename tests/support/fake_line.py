"""A fake LINE platform on loopback: the simulator's Messaging API behaviour plus injected faults.

The bot's real line-bot-sdk client talks to it over HTTP. Tests read what users received from
`store`, every request from `calls`, and script faults per path: an HTTP status (429, 500, 400),
a stall that never answers in time, or a stall after the request was carried out.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from fnmatch import fnmatchcase as fnmatch
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from bot.simulator.platform import MemoryStore, MessagingApi

REPLY = "/v2/bot/message/reply"
PUSH = "/v2/bot/message/push"
LOADING = "/v2/bot/chat/loading/start"
QUOTA = "/v2/bot/message/quota"
CONSUMPTION = "/v2/bot/message/quota/consumption"


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


class FakeLine:
    def __init__(self, access_token: str) -> None:
        self.store = MemoryStore()
        self.api = MessagingApi(self.store, access_token)
        self.calls: list[Call] = []
        self.arrivals: list[str] = []  # paths, in the order requests arrived (before any fault)
        self._faults: dict[str, deque] = defaultdict(deque)
        self._holds: dict[str, tuple[threading.Event, float]] = {}
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()

    def fail_next(self, path: str, *faults: int | tuple[str, float]) -> None:
        """Answer the next calls to `path` with these faults, in order: a status code,
        ("stall", seconds) to hang and then drop the request, or ("accept_then_stall", seconds)
        to carry it out and answer too late. `path` may hold `*` wildcards, for paths with an id
        the test cannot know in advance (e.g. "/v2/bot/richmenu/*/content")."""
        with self._lock:
            self._faults[path].extend(faults)

    def hold(self, path: str, most: float = 30.0) -> threading.Event:
        """Leave calls to `path` unanswered, as a slow LINE would, until the returned event is set
        (or `most` seconds pass); then they are carried out and answered."""
        gate = threading.Event()
        self._holds[path] = (gate, most)
        return gate

    def set_quota(self, limit: int | None, used: int = 0) -> None:
        """The account's monthly quota as LINE keeps it: `limit` None for no target limit (type
        "none"), `used` pushes already counted this month. Once the month's pushes reach the limit,
        a push gets 429 "You have reached your monthly limit." (the simulator's platform answers)."""
        self.store.monthly_limit, self.store.pushes_counted = limit, used

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in list(self.calls) if c.path == path]

    def _next_fault(self, path: str) -> Any:
        with self._lock:
            queue = self._faults.get(path) or next(
                (q for pattern, q in self._faults.items() if q and "*" in pattern and fnmatch(path, pattern)), None)
            return queue.popleft() if queue else None

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw.decode(errors="replace")}
        headers = {k: v for k, v in request.headers.items()}
        self.arrivals.append(request.path)
        held = self._holds.get(request.path)
        if held is not None:
            held[0].wait(held[1])
        fault = self._next_fault(request.path)
        if isinstance(fault, tuple) and fault[0] == "stall":
            time.sleep(fault[1])
            self.calls.append(Call(request.method, request.path, headers, body, 0))
            response = Response(json.dumps({"message": "stalled"}), 500, content_type="application/json")
            return response(environ, start_response)
        if isinstance(fault, int):
            self.calls.append(Call(request.method, request.path, headers, body, fault))
            extra = {"Retry-After": "1"} if fault == 429 else {}
            response = Response(json.dumps({"message": f"injected {fault}"}), fault,
                                content_type="application/json", headers={"x-line-request-id": "fault", **extra})
            return response(environ, start_response)
        answer = self.api.handle(request.method, request.path, headers, raw)
        self.calls.append(Call(request.method, request.path, headers, body, answer.status))
        if isinstance(fault, tuple) and fault[0] == "accept_then_stall":
            time.sleep(fault[1])
        response = Response(json.dumps(answer.body), answer.status, content_type="application/json",
                            headers=answer.headers)
        return response(environ, start_response)

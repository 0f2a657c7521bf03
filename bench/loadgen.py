"""The load generator: `python -m bench.loadgen PLAN RESULT`, a process of its own.

It reads a pickled `Plan` (pre-signed webhook bodies, the target, the pace), posts them over raw
loopback sockets from a fixed number of threads, and writes a pickled list of
(index, due, started, finished, status) tuples. Half the threads keep their connection alive,
the other half open a new connection for every post: gunicorn pins a kept-alive connection to
one worker process, so new connections are what spread load over all of them.

Two paces: "max" (closed loop: every thread posts as soon as its last answer came, until the
duration ends or the bodies run out) and "rate" (open loop: post i is due at start + i / rate;
a thread that is late posts at once, and the latency is counted from when it was due).
Only the standard library is imported here, so the process starts fast and stays small.
"""

from __future__ import annotations

import pickle
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass

_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)


@dataclass
class Plan:
    host: str
    port: int
    bodies: list[tuple[bytes, str]]  # (body, X-Line-Signature)
    pace: str  # "max" or "rate"
    duration: float  # seconds, at most
    start_at: float  # time.monotonic() at which to begin (the clock is system-wide on Linux)
    rate: float = 0.0
    connections: int = 16
    keepalive_share: float = 0.5
    timeout: float = 10.0
    path: str = "/callback"
    grace: float = 15.0  # open loop: posts still unsent this long after the duration are never sent


def _request(plan: Plan, body: bytes, signature: str, close: bool) -> bytes:
    head = (f"POST {plan.path} HTTP/1.1\r\nHost: {plan.host}:{plan.port}\r\n"
            f"Content-Type: application/json\r\nX-Line-Signature: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n")
    return head.encode("ascii") + body


def _connect(plan: Plan) -> socket.socket:
    sock = socket.create_connection((plan.host, plan.port), timeout=plan.timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _exchange(sock: socket.socket, data: bytes) -> tuple[int, bool]:
    """Send one request, read one response; (status, whether the server will close)."""
    sock.sendall(data)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before an answer")
        buffer += chunk
        if len(buffer) > 1 << 20:
            raise ConnectionError("header too long")
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status = int(head[9:12])
    match = _LENGTH.search(head)
    length = int(match.group(1)) if match else 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, bool(_CLOSE.search(head)) or not match


def run(plan: Plan) -> list[tuple[int, float, float, float, int]]:
    results: list[tuple[int, float, float, float, int]] = []
    lock = threading.Lock()
    counter = iter(range(len(plan.bodies)))
    end = plan.start_at + plan.duration
    keepers = round(plan.connections * plan.keepalive_share)

    def next_index() -> int | None:
        with lock:
            return next(counter, None)

    def thread(number: int) -> None:
        keep = number < keepers
        sock: socket.socket | None = None
        mine = []
        try:
            while True:
                index = next_index()
                if index is None:
                    break
                if plan.pace == "rate":
                    due = plan.start_at + index / plan.rate
                    if due > end:
                        break
                    now = time.monotonic()
                    if now > end + plan.grace:  # the server fell far behind: bounded, the rest go unsent
                        break
                    if due > now:
                        time.sleep(due - now)
                else:
                    due = time.monotonic()
                    if due > end:
                        break
                body, signature = plan.bodies[index]
                data = _request(plan, body, signature, close=not keep)
                started = time.monotonic()
                status = 0
                for attempt in range(2):  # a kept-alive socket the server closed while idle: once more, fresh
                    reused = sock is not None
                    try:
                        if sock is None:
                            sock = _connect(plan)
                        status, closing = _exchange(sock, data)
                    except OSError:
                        if sock is not None:
                            sock.close()
                        sock = None
                        if reused and attempt == 0:
                            continue
                        status, closing = 0, True
                    if closing or not keep:
                        if sock is not None:
                            sock.close()
                        sock = None
                    break
                mine.append((index, due if plan.pace == "rate" else started, started, time.monotonic(), status))
        finally:
            if sock is not None:
                sock.close()
            with lock:
                results.extend(mine)

    wait = plan.start_at - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    threads = [threading.Thread(target=thread, args=(n,), daemon=True) for n in range(plan.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(plan.duration + plan.grace + plan.timeout * 3 + 10)  # bounded: a stuck socket times out well before
    with lock:
        return sorted(results)


def main(argv: list[str]) -> int:
    plan_path, result_path = argv
    with open(plan_path, "rb") as f:
        plan: Plan = pickle.load(f)
    results = run(plan)
    with open(result_path, "wb") as f:
        pickle.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Pre-signed webhook bodies for one phase, and the load generator's run over them (`bench/loadgen.py`,
a process of its own so that posting takes none of the bench process's time)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import report
from bench.line import BenchLine
from bench.loadgen import Plan
from bench.processes import ROOT
from bot.simulator import events as line_events

CHANNEL_SECRET = "bench-channel-secret-0123456789ab"
TOKEN_TTL = 60.0  # LINE: a reply token is not guaranteed after about a minute from its event


@dataclass
class Batch:
    plan: Plan
    meta: list[tuple[str, str]]  # (user id, reply token) per body


def make_batch(line: BenchLine, port: int, phase: int, count: int, users: int, *, pace: str, duration: float,
               rate: float = 0.0, connections: int = 16, lead: float = 3.0, said: str = "メニュー") -> Batch:
    """Pre-signed bodies of one text event each. Open loop: each event's timestamp and its reply
    token's expiry follow the time it is due, as LINE's would."""
    start_at = time.monotonic() + lead
    wall_offset = time.time() - time.monotonic()
    bodies, meta = [], []
    for i in range(count):
        user = f"U{phase:02x}{i % users:030x}"
        due = start_at + (i / rate if pace == "rate" else 0.0)
        token = line.store.issue_reply_token(user, due - time.monotonic() + TOKEN_TTL)
        event = line_events.text(user, token, said)
        event["timestamp"] = int((due + wall_offset) * 1000)
        body = line_events.body(event).encode()
        bodies.append((body, line_events.signature(CHANNEL_SECRET, body)))
        meta.append((user, token))
    if pace == "max":  # nothing in the bodies depends on when they go
        start_at = time.monotonic() + 0.5
    elif start_at - time.monotonic() < 0.5:
        raise RuntimeError("making the bodies overran the lead time; raise `lead`")
    plan = Plan(host="127.0.0.1", port=port, bodies=bodies, pace=pace, duration=duration, start_at=start_at,
                rate=rate, connections=connections)
    return Batch(plan, meta)


def post(batch: Batch, work: Path) -> list[report.Post]:
    """Run the load generator in its own process and read back what it saw."""
    plan_path, result_path = work / "plan.pickle", work / "result.pickle"
    with open(plan_path, "wb") as f:
        pickle.dump(batch.plan, f)
    result_path.unlink(missing_ok=True)
    bound = batch.plan.start_at - time.monotonic() + batch.plan.duration + batch.plan.grace + 3 * batch.plan.timeout + 60
    subprocess.run([sys.executable, "-m", "bench.loadgen", str(plan_path), str(result_path)], cwd=ROOT,
                   check=True, timeout=bound)
    with open(result_path, "rb") as f:
        raw = pickle.load(f)
    plan_path.unlink(missing_ok=True)
    result_path.unlink(missing_ok=True)
    return [report.Post(batch.meta[i][0], batch.meta[i][1], started, due, finished, status)
            for i, due, started, finished, status in raw]

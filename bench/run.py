"""The benchmark: `python -m bench.run` (what `make bench` runs; not part of `make test`).

For PostgreSQL (a throwaway cluster) and then SQLite, it starts the service as in production
(gunicorn web processes with the Procfile's settings, `python -m bot.queue.worker` processes) against
the fake LINE platform on loopback, and drives it from a load generator in a process of its own
(`bench/loadgen.py`) posting pre-signed webhook bodies over kept-alive and new connections.
Phases, in order:

1. baseline: a minimal Flask app on the same gunicorn settings that only verifies the signature,
   posted to as fast as the generator can (closed loop);
2. ingress: the service, the same way; the events it could not turn meanwhile are then dropped
   from the queue (marked done) so the next phase starts on an idle queue;
3. ack latency: the service at a steady 500 events/s (open loop); backlog dropped again;
4. turns: 50 turns/s (open loop) from a pool of users, each timed from the webhook post to the
   answer's arrival at the fake LINE, by reply token or, where the bot fell back, by push;
   meanwhile an operator answers chats taken before the phase (`bench/chats.py`), 2 messages/s,
   each timed from its commit to its arrival at the fake LINE;
5. burst: 3,000 new users, one message each, within 10 s; the time until the last is answered;
6. peak resident memory (VmHWM) of every gunicorn and bot.queue.worker process.

Then it prints one table per database with each target and PASS or MISS. Every loop and wait is
bounded; a phase that runs out of time is reported as a miss, never waited on forever.
`--turns-only` runs only the turns phase (with the operator): a quick check, not a measurement of
the other targets. `--profile DIR` also samples one gunicorn worker during the ingress phase and one bot.queue.worker
during the burst with py-spy (`pip install py-spy`) and prints their top frames.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from bench import report
from bench.chats import ChatDesk
from bench.loadgen import Plan
from bench.processes import (ROOT, CpuMeter, gunicorn_workers, log, memory, start_baseline, start_profile, summarise_profile,
                             wait_http)
from bot.demo import load_demo_data
from bot.line.ingest import EVENT_JOB
from bot.simulator import events as line_events
from bot.clock import system_clock
from models import Job
from models.database import Database
from models.migrate import upgrade
from tests.chaos.service import Service
from tests.support.fake_line import PUSH, REPLY, FakeLine
from tests.support.postgres import _free_port, start_cluster
from tests.support.processes import service_env, stop_groups

CHANNEL_SECRET = "bench-channel-secret-0123456789ab"
ACCESS_TOKEN = "bench-access-token"
TOKEN_TTL = 60.0  # LINE: a reply token is not guaranteed after about a minute from its event


@dataclass
class Options:
    databases: tuple[str, ...] = ("postgresql", "sqlite")
    workers: int = 2  # bot.queue.worker processes
    max_seconds: float = 8.0  # each closed-loop ingress phase
    max_bodies: int = 40_000  # pre-signed bodies for a closed-loop phase (more than 5,000/s is not expected)
    connections: int = 16  # closed loop
    ack_seconds: float = 8.0
    steady_seconds: float = 20.0
    steady_users: int = 250  # each posts every steady_users / STEADY_RATE seconds
    burst_wait: float = 180.0  # after the burst's last post, at most
    drain_timeout: float = 180.0
    chats: int = 10  # taken before the steady phase, answered in turn during it
    turns_only: bool = False
    profile_dir: Path | None = None


# -- the fake LINE, keeping only when each answer arrived -----------------------------------------

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


class BenchLine(FakeLine):
    def __init__(self) -> None:
        super().__init__(ACCESS_TOKEN)
        self.calls = _Arrivals()
        self.arrivals = _Discard()


class _Discard(list):
    def append(self, _item: Any) -> None:
        pass


# -- bodies and the load generator ----------------------------------------------------------------

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


# -- the queue between phases ---------------------------------------------------------------------

def queue_counts(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        return dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())


def wait_idle(db: Database, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = queue_counts(db)
        if not counts.get("pending") and not counts.get("running"):
            return True
        time.sleep(1)
    log(f"the queue was not idle within {timeout:.0f} s: {queue_counts(db)}")
    return False


def drop_backlog(db: Database, timeout: float) -> int:
    """Mark the events the workers had not yet started as done (the ingress phases post far more
    than the workers turn), then wait for the turns in progress and their deliveries."""
    with db.transaction() as session:
        dropped = session.execute(
            update(Job).where(Job.status == "pending", Job.kind == EVENT_JOB)
            .values(status="done", finished_at=system_clock(), last_error="dropped by the benchmark")).rowcount
    wait_idle(db, timeout)
    return dropped


def wait_answered(line: BenchLine, posts: list[report.Post], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies, pushes = line.calls.snapshot()
        if len(report.match_answers(posts, replies, pushes)) >= len(posts):
            return
        time.sleep(0.5)


# -- one database ---------------------------------------------------------------------------------

class Run:
    """What the phases of one database's run share, and what is left to stop when it ends."""

    def __init__(self, database: str, opts: Options) -> None:
        self.database, self.opts = database, opts
        self.results = report.Results(database="PostgreSQL" if database == "postgresql" else "SQLite")
        self.work = Path(tempfile.mkdtemp(prefix=f"desk-bench-{database}-"))
        self.line = BenchLine()
        self.cluster: Any = None
        self.db: Database | None = None
        self.env: dict[str, str] = {}
        self.baseline: subprocess.Popen | None = None
        self.service: Service | None = None
        self.desk: ChatDesk | None = None
        self.cpu: CpuMeter | None = None
        self.profiles: list[tuple[subprocess.Popen, Path]] = []
        self.failed = True  # the service's logs stay for a look when the run breaks off

    def profile(self, pid: int, seconds: float, name: str) -> None:
        out = self.opts.profile_dir / f"{self.database}-{name}.txt"
        spy = start_profile(pid, seconds, out)
        if spy:
            self.profiles.append((spy, out))

    def close(self) -> None:
        for spy, _ in self.profiles:
            if spy.poll() is None:
                spy.kill()
        if self.baseline is not None:
            stop_groups(self.baseline)
        if self.service is not None:
            self.service.stop()
        if self.desk is not None:
            self.desk.close()
        if self.db is not None:
            self.db.dispose()
        self.line.close()
        if self.cluster is not None:
            self.cluster.stop()
        if not self.failed:
            shutil.rmtree(self.work, ignore_errors=True)


@contextmanager
def cpu_noted(run: Run, during: str) -> Iterator[None]:
    """Notes the CPU seconds each part of the run used while the block ran (not when it raised)."""
    run.cpu.start()
    yield
    run.results.notes.append(f"CPU seconds during {during}: {run.cpu.stop()}")


def bench(database: str, opts: Options) -> report.Results:
    run = Run(database, opts)
    try:
        open_database(run)
        if not opts.turns_only:
            measure_baseline(run)
        start_service(run)
        if not opts.turns_only:
            measure_ingress(run)
            measure_ack(run)
        measure_turns(run)
        if not opts.turns_only:
            measure_burst(run)
        measure_memory(run)
        print_profiles(run)
        run.failed = False
        return run.results
    finally:
        run.close()


def open_database(run: Run) -> None:
    """A migrated database with the demo data, and the service's environment pointing at it."""
    if run.database == "postgresql":
        run.cluster = start_cluster()
        url = run.cluster.migrated_database("bench")
    else:
        url = f"sqlite:///{run.work}/bench.sqlite3"
        upgrade(url)
    run.db = Database(url, pool_size=2, clock=system_clock)
    load_demo_data(run.db)
    run.env = service_env(PORT=str(_free_port()), DATABASE_URL=url, SECRET_KEY="bench",
                          INSTANCE_PATH=str(run.work / "instance"), LINE_CHANNEL_SECRET=CHANNEL_SECRET,
                          LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN, LINE_API_BASE_URL=run.line.url,
                          PUBLIC_BASE_URL="https://desk.example.jp", CHAT_HOURS="always")
    log(f"{run.results.database}: logs in {run.work}")


def measure_baseline(run: Run) -> None:
    """1. The baseline, alone on the machine (the service is not started yet)."""
    opts, line, work, results = run.opts, run.line, run.work, run.results
    port = _free_port()
    run.baseline = start_baseline(run.env, port, work)
    wait_http(f"http://127.0.0.1:{port}/healthz", run.baseline)
    post(make_batch(line, port, 0xB0, 2000, 2000, pace="max", duration=1.5, lead=1.0), work)  # warm-up
    posts = post(make_batch(line, port, 0xB1, opts.max_bodies, 2000, pace="max", duration=opts.max_seconds,
                            connections=opts.connections), work)
    results.baseline = report.ingress_summary(posts)
    log(f"baseline: {results.baseline}")
    stop_groups(run.baseline)
    run.baseline = None


def start_service(run: Run) -> None:
    """The service, warmed up with a few turns, on an idle queue."""
    run.service = Service(run.env, run.work, run.opts.workers)
    run.service.wait_ready()
    run.cpu = CpuMeter(run.service, run.cluster)
    warm = post(make_batch(run.line, run.service.port, 0xA0, 200, 200, pace="rate", rate=100, duration=2.0,
                           lead=1.0), run.work)
    wait_answered(run.line, warm, 30)
    wait_idle(run.db, 30)


def measure_ingress(run: Run) -> None:
    """2. Ingress at the most the service takes."""
    opts, service, db, results = run.opts, run.service, run.db, run.results
    batch = make_batch(run.line, service.port, 0xA1, opts.max_bodies, 2000, pace="max", duration=opts.max_seconds,
                       connections=opts.connections)
    if opts.profile_dir:
        workers = gunicorn_workers(service)
        if workers:
            run.profile(workers[0], opts.max_seconds + 2, "web-worker-ingress")
    with cpu_noted(run, "the max-rate ingress phase"):
        posts = post(batch, run.work)
    results.ingress = report.ingress_summary(posts)
    log(f"ingress: {results.ingress}; queue {queue_counts(db)}")
    dropped = drop_backlog(db, opts.drain_timeout)
    results.notes.append(f"after the max-rate ingress phase {dropped} unturned events were dropped from the queue")


def measure_ack(run: Run) -> None:
    """3. Ack latency at 500 events/s."""
    opts, db, results = run.opts, run.db, run.results
    count = int(report.ACK_RATE * opts.ack_seconds)
    with cpu_noted(run, f"the {report.ACK_RATE:.0f} ev/s phase"):
        posts = post(make_batch(run.line, run.service.port, 0xA2, count, 2000, pace="rate", rate=report.ACK_RATE,
                                duration=opts.ack_seconds, connections=32), run.work)
    results.ack = report.ingress_summary(posts, from_due=True, planned=count)
    log(f"ack at {report.ACK_RATE:.0f}/s: {results.ack}; queue {queue_counts(db)}")
    dropped = drop_backlog(db, opts.drain_timeout)
    results.notes.append(f"after the {report.ACK_RATE:.0f} ev/s phase {dropped} unturned events were dropped")


def measure_turns(run: Run) -> None:
    """4. Turns at a steady 50/s, while an operator answers chats (taken before the phase)."""
    opts, line, results = run.opts, run.line, run.results
    count = int(report.STEADY_RATE * opts.steady_seconds)
    run.desk = ChatDesk(run.env, line, run.service.url, CHANNEL_SECRET)
    run.desk.set_up(opts.chats)
    wait_idle(run.db, opts.drain_timeout)
    batch = make_batch(line, run.service.port, 0xA3, count, opts.steady_users, pace="rate",
                       rate=report.STEADY_RATE, duration=opts.steady_seconds, connections=16)
    run.desk.answer(batch.plan.start_at, opts.steady_seconds)
    with cpu_noted(run, "the steady phase (until answered)"):
        posts = post(batch, run.work)
        wait_answered(line, posts, 60)
    sends = run.desk.finish()
    replies, pushes = line.calls.snapshot()
    results.steady = report.turn_summary(posts, replies, pushes, planned=count)
    results.chat = report.chat_summary(sends, replies, line.calls.keyed_snapshot())
    log(f"steady: {results.steady}; operator's chat messages: {results.chat}")
    wait_idle(run.db, opts.drain_timeout)


def measure_burst(run: Run) -> None:
    """5. The burst: 3,000 new users within 10 s."""
    opts, line, results = run.opts, run.line, run.results
    batch = make_batch(line, run.service.port, 0xA4, report.BURST_USERS, report.BURST_USERS, pace="rate",
                       rate=report.BURST_USERS / report.BURST_SECONDS, duration=report.BURST_SECONDS,
                       connections=32, lead=4.0)
    if opts.profile_dir:
        run.profile(run.service.workers[0].pid, 25, "bot-worker-burst")
    with cpu_noted(run, "the burst (until answered)"):
        posts = post(batch, run.work)
        results.burst_send_seconds = max(p.started for p in posts) - min(p.started for p in posts) if posts else 0
        wait_answered(line, posts, opts.burst_wait)
    replies, pushes = line.calls.snapshot()
    results.burst = report.turn_summary(posts, replies, pushes, planned=report.BURST_USERS)
    log(f"burst: {results.burst}")


def measure_memory(run: Run) -> None:
    """6. Peak resident memory of the service's processes; then the queue is left to empty."""
    run.results.memory_mb = memory(run.service)
    wait_idle(run.db, 30)
    log(f"fake LINE calls: {dict(run.line.calls.counts)}; queue {queue_counts(run.db)}")


def print_profiles(run: Run) -> None:
    for spy, out in run.profiles:
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()
        print(summarise_profile(out), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--workers", type=int, default=Options.workers, help="bot.queue.worker processes")
    parser.add_argument("--max-seconds", type=float, default=Options.max_seconds)
    parser.add_argument("--steady-seconds", type=float, default=Options.steady_seconds)
    parser.add_argument("--turns-only", action="store_true",
                        help="only the turns phase and the operator's chat messages (a quick check)")
    parser.add_argument("--profile", type=Path, help="folder for py-spy profiles (py-spy must be installed)")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fake LINE's request lines
    opts = Options(databases=("postgresql", "sqlite") if args.database == "both" else (args.database,),
                   workers=args.workers, max_seconds=args.max_seconds, steady_seconds=args.steady_seconds,
                   turns_only=args.turns_only, profile_dir=args.profile)
    if opts.profile_dir:
        opts.profile_dir.mkdir(parents=True, exist_ok=True)
    log(f"{os.cpu_count()} cores; WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2')}, "
        f"WEB_THREADS={os.environ.get('WEB_THREADS', '4')}, WORKER_THREADS={os.environ.get('WORKER_THREADS', '4')}, "
        f"{opts.workers} bot.queue.worker processes")
    tables = []
    for database in opts.databases:
        try:
            tables.append(report.render(bench(database, opts)))
        except Exception as e:  # noqa: BLE001 (one database failing still prints the other's table)
            traceback.print_exc()
            tables.append(f"== {database} ==\nthe run failed: {type(e).__name__}: {e}")
        print("\n" + tables[-1] + "\n", flush=True)
    print("\n== summary (targets are set for PostgreSQL on 2 cores) ==")
    print("\n\n".join(tables))
    return 0 if all("every target met" in t for t in tables[:1]) else 1


if __name__ == "__main__":
    sys.exit(main())

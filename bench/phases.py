"""The benchmark's phases for one database, one function each, and what they share (`Run`).
The order and what each phase measures: bench/run.py's docstring."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import report
from bench.backlog import drop_backlog, queue_counts, wait_answered, wait_idle
from bench.batches import CHANNEL_SECRET, make_batch, post
from bench.chats import ChatDesk
from bench.line import ACCESS_TOKEN, DEFAULT_LATENCY_MS, BenchLine
from bench.processes import (
    CpuMeter,
    gunicorn_workers,
    log,
    memory,
    start_baseline,
    start_profile,
    summarise_profile,
    wait_http,
)
from bot.clock import system_clock
from bot.demo import load_demo_data
from models.database import Database
from models.migrate import upgrade
from tests.chaos.service import Service
from tests.support.postgres import _free_port, start_cluster
from tests.support.processes import service_env, stop_groups

MOST_EXPECTED_RATE = 5000.0  # events/s in a closed-loop probe: bodies enough for this, never run short


@dataclass
class Options:
    databases: tuple[str, ...] = ("postgresql", "sqlite")
    workers: int = 2  # bot.queue.worker processes
    line_latency_ms: float = DEFAULT_LATENCY_MS  # the fake LINE's delay on every API call
    probes: int = report.PROBES  # paired ingress probes
    probe_seconds: float = 5.0  # each half of a probe (closed loop)
    connections: int = 16  # closed loop
    ack_seconds: float = 8.0
    steady_seconds: float = 20.0
    steady_users: int = 250  # each posts every steady_users / STEADY_RATE seconds
    burst_users: int = report.BURST_USERS  # fewer is a smoke run: the burst's target then misses
    burst_wait: float = 180.0  # after the burst's last post, at most
    drain_timeout: float = 180.0
    chats: int = 10  # taken before the steady phase, answered in turn during it
    turns_only: bool = False
    profile_dir: Path | None = None


class Run:
    """What the phases of one database's run share, and what is left to stop when it ends."""

    def __init__(self, database: str, opts: Options) -> None:
        self.database, self.opts = database, opts
        self.results = report.Results(database="PostgreSQL" if database == "postgresql" else "SQLite",
                                      targets=report.TARGETS[database], line_latency_ms=opts.line_latency_ms)
        self.work = Path(tempfile.mkdtemp(prefix=f"desk-bench-{database}-"))
        self.line = BenchLine(opts.line_latency_ms)
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
def cpu_noted(run: Run, during: str) -> Iterator[dict[str, float]]:
    """The CPU seconds each part of the run used while the block ran, filled in when it ends (not
    when it raised) and noted under the table."""
    used: dict[str, float] = {}
    run.cpu.start()
    yield used
    used.update(run.cpu.stop())
    run.results.notes.append(f"CPU seconds during {during}: " + ", ".join(f"{k} {v:.1f}" for k, v in used.items()))


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


def start_service(run: Run) -> None:
    """The service, warmed up with a few turns, on an idle queue."""
    run.service = Service(run.env, run.work, run.opts.workers)
    run.service.wait_ready()
    run.cpu = CpuMeter(run.service, run.cluster)
    warm = post(make_batch(run.line, run.service.port, 0xA0, 200, 200, pace="rate", rate=100, duration=2.0,
                           lead=1.0), run.work)
    wait_answered(run.line, warm, 30)
    wait_idle(run.db, 30)


def closed_loop(run: Run, port: int, phase: int) -> report.Ingress:
    """One half of a probe: as many posts as the server at `port` takes for `probe_seconds`."""
    opts = run.opts
    batch = make_batch(run.line, port, phase, int(opts.probe_seconds * MOST_EXPECTED_RATE), 2000, pace="max",
                       duration=opts.probe_seconds, connections=opts.connections)
    return report.ingress_summary(post(batch, run.work))


def measure_ingress(run: Run) -> None:
    """1. Ingress: paired probes, each the signature-only baseline at its most and at once the service
    at its most. This machine's speed drifts from minute to minute, so each ratio compares two
    neighbouring measurements, and the median of the ratios leaves out one probe caught by a drift."""
    opts, db, results = run.opts, run.db, run.results
    port = _free_port()
    run.baseline = start_baseline(run.env, port, run.work)
    wait_http(f"http://127.0.0.1:{port}/healthz", run.baseline)
    post(make_batch(run.line, port, 0xB0, 2000, 2000, pace="max", duration=1.5, lead=1.0), run.work)  # warm-up
    for k in range(opts.probes):
        baseline = closed_loop(run, port, 0xB1 + k)
        if opts.profile_dir and k == 0 and (workers := gunicorn_workers(run.service)):
            run.profile(workers[0], opts.probe_seconds + 2, "web-worker-ingress")
        with cpu_noted(run, f"ingress probe {k + 1}, the service's half"):
            service = closed_loop(run, run.service.port, 0xC1 + k)
        results.probes.append(report.Probe(baseline, service))
        log(f"ingress probe {k + 1}: baseline {baseline}; service {service}; queue {queue_counts(db)}")
        # The flood's events would keep the workers busy into the next baseline: dropped, not turned.
        dropped = drop_backlog(db, opts.drain_timeout)
        results.notes.append(f"after ingress probe {k + 1} {dropped} unturned events were dropped from the queue")
    stop_groups(run.baseline)
    run.baseline = None


def measure_ack(run: Run) -> None:
    """2. Ack latency at 500 events/s."""
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
    """3. Turns at a steady 50/s, while an operator answers chats (taken before the phase)."""
    opts, line, results = run.opts, run.line, run.results
    count = int(report.STEADY_RATE * opts.steady_seconds)
    run.desk = ChatDesk(run.env, line, run.service.url, CHANNEL_SECRET)
    run.desk.set_up(opts.chats)
    wait_idle(run.db, opts.drain_timeout)
    batch = make_batch(line, run.service.port, 0xA3, count, opts.steady_users, pace="rate",
                       rate=report.STEADY_RATE, duration=opts.steady_seconds, connections=16)
    run.desk.answer(batch.plan.start_at, opts.steady_seconds)
    with cpu_noted(run, "the steady phase (until answered)") as used:
        posts = post(batch, run.work)
        wait_answered(line, posts, 60)
    results.steady_cpu = used
    sends = run.desk.finish()
    replies, pushes = line.calls.snapshot()
    results.steady = report.turn_summary(posts, replies, pushes, planned=count)
    results.chat = report.chat_summary(sends, replies, line.calls.keyed_snapshot())
    log(f"steady: {results.steady}; operator's chat messages: {results.chat}")
    wait_idle(run.db, opts.drain_timeout)


def measure_burst(run: Run) -> None:
    """4. The burst: 3,000 new users within 10 s."""
    opts, line, results = run.opts, run.line, run.results
    users = opts.burst_users
    batch = make_batch(line, run.service.port, 0xA4, users, users, pace="rate",
                       rate=users / report.BURST_SECONDS, duration=report.BURST_SECONDS, connections=32, lead=4.0)
    if opts.profile_dir:
        run.profile(run.service.workers[0].pid, 25, "bot-worker-burst")
    with cpu_noted(run, "the burst (until answered)"):
        posts = post(batch, run.work)
        results.burst_send_seconds = max(p.started for p in posts) - min(p.started for p in posts) if posts else 0
        wait_answered(line, posts, opts.burst_wait)
    replies, pushes = line.calls.snapshot()
    results.burst = report.turn_summary(posts, replies, pushes, planned=users)
    log(f"burst: {results.burst}")


def measure_memory(run: Run) -> None:
    """5. Peak resident memory of the service's processes; then the queue is left to empty."""
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

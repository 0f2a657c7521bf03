"""CPU per turn of one worker, with a fake LINE that answers after a delay.

    PYTHONPATH=. python scripts/worker_cpu.py [--database postgresql|sqlite] [--turns 1000]
        [--users 250] [--rate 50] [--line-ms 50] [--profile worker.prof] [--statements]

The worker runs in this process, as `python -m bot.queue.worker` runs it; the fake LINE and the
events' arrival run in child processes, so this process's CPU time is the worker's alone (and
`--profile` can use cProfile). `--rate 0` stores every event before the worker starts (a backlog,
as in a burst); otherwise events arrive at that rate (steady turns; PostgreSQL's figure then
includes storing them, about 0.2 ms a turn). Each user says メニュー, as in `make bench`. `--statements`
(PostgreSQL) prints each statement's calls and server time per turn, from pg_stat_statements.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import multiprocessing as mp
import pstats
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from bot.clock import system_clock  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.line.ingest import store_events  # noqa: E402
from bot.queue.worker import Worker  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.simulator import events as line_events  # noqa: E402
from models import LineUser, OutboundMessage, WebhookEvent  # noqa: E402
from models.database import Database  # noqa: E402
from tests.support.processes import descendants  # noqa: E402

TOKEN = "cpu-access-token"


def run_line(delay: float, users: list[str], tokens: mp.Queue, delivered) -> None:
    """The fake LINE (tests/support/fake_line.py), answering every call after `delay` seconds."""
    from tests.support.fake_line import FakeLine

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request

    class SlowLine(FakeLine):
        def _wsgi(self, environ, start_response):
            time.sleep(delay)
            answer = super()._wsgi(environ, start_response)
            with delivered.get_lock():
                delivered.value += 1
            return answer

    line = SlowLine(TOKEN)
    line.calls, line.arrivals = _Nothing(), _Nothing()
    tokens.put((line.url, [line.store.issue_reply_token(u, 600) for u in users]))
    threading.Event().wait()


class _Nothing(list):
    def append(self, _item) -> None:
        pass


def feed(url: str, bodies: list[dict], rate: float, stored) -> None:
    db = Database(url, clock=system_clock, pool_size=2)
    started = time.monotonic()
    for i, event in enumerate(bodies):
        if rate:
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
        event["timestamp"] = int(time.time() * 1000)  # sent now, as LINE stamps it
        store_events(db, [event])
    stored.set()


def cpu_seconds(pids: set[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / 100
    return total


def postgres_pids(data_dir: str) -> set[int]:
    postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    return descendants(postmaster) | {postmaster}


def profile_worker(out: str) -> dict[int, cProfile.Profile]:
    """cProfile every job and claim, per thread (a profiler sees only its own thread)."""
    profiles: dict[int, cProfile.Profile] = {}

    def wrap(name: str) -> None:
        original = getattr(Worker, name)

        def profiled(self, *args, **kwargs):
            profile = profiles.setdefault(threading.get_ident(), cProfile.Profile(time.thread_time))  # CPU, not waits
            profile.enable()
            try:
                return original(self, *args, **kwargs)
            finally:
                profile.disable()

        setattr(Worker, name, profiled)

    wrap("_execute")
    wrap("_claim")
    return profiles


def print_statements(services: Services, turns: int) -> None:
    """Each statement's calls and server time (planning and execution) per turn, costliest first."""
    with services.db.transaction() as session:
        rows = session.execute(text(
            "SELECT calls, total_plan_time, total_exec_time, query FROM pg_stat_statements "
            "ORDER BY total_plan_time + total_exec_time DESC LIMIT 25")).all()
    print("  calls/turn  planning+execution ms/turn  statement")
    for calls, plan, execute, query in rows:
        print(f"  {calls / turns:10.2f} {plan / turns:6.3f}+{execute / turns:6.3f}  {' '.join(query.split())[:140]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--users", type=int, default=250)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--line-ms", type=float, default=50.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--profile", help="write the worker's cProfile statistics here")
    parser.add_argument("--statements", action="store_true",
                        help="PostgreSQL: print each statement's calls and time per turn (pg_stat_statements)")
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    users = [f"U{n:032x}" for n in range(args.users)]
    order = [users[i % args.users] for i in range(args.turns)]
    tokens, delivered = ctx.Queue(), ctx.Value("i", 0)
    line = ctx.Process(target=run_line, args=(args.line_ms / 1000, order, tokens, delivered), daemon=True)
    line.start()
    line_url, reply_tokens = tokens.get(timeout=60)
    bodies = [line_events.text(u, t, "メニュー") for u, t in zip(order, reply_tokens)]

    cluster, scratch = None, tempfile.TemporaryDirectory()
    if args.database == "postgresql":
        from tests.support.postgres import start_cluster
        cluster = start_cluster("-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
                                if args.statements else "")
        url = cluster.migrated_database("cpu")
        if args.statements:
            cluster.create_extension("cpu", "pg_stat_statements")
    else:
        from models.migrate import upgrade
        url = f"sqlite:///{scratch.name}/desk.sqlite3"
        upgrade(url)

    config = Config(secret_key="cpu", database_url=url, line_channel_secret="cpu-secret",
                    line_channel_access_token=TOKEN, line_api_base_url=line_url, simulator=False,
                    instance_dir=Path(scratch.name), worker_threads=args.threads, worker_nice=0)
    services = Services.create(config, pool_size=args.threads + getattr(config, "worker_send_threads", 0))
    profiles = profile_worker(args.profile) if args.profile else {}
    stored = ctx.Event()
    feeder = ctx.Process(target=feed, args=(url, bodies, args.rate, stored), daemon=True)
    if not args.rate:
        feeder.start()
        stored.wait()

    pg = postgres_pids(f"{cluster.root}/data") if cluster else set()
    pg_before, cpu_before, started = cpu_seconds(pg), time.process_time(), time.monotonic()
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    worker = Worker(services)
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    if args.rate:
        feeder.start()
    while delivered.value < args.turns:
        time.sleep(0.05)
    wall, cpu = time.monotonic() - started, time.process_time() - cpu_before
    usage = resource.getrusage(resource.RUSAGE_SELF)
    kernel = usage.ru_stime - usage_before.ru_stime
    pg_cpu = cpu_seconds(postgres_pids(f"{cluster.root}/data")) - pg_before if cluster else 0.0
    worker.stop()
    runner.join(30)

    with services.db.transaction() as session:
        events = session.execute(select(WebhookEvent.source_key, WebhookEvent.received_at).order_by(WebhookEvent.id))
        sent = session.execute(select(LineUser.line_user_id, OutboundMessage.sent_at, OutboundMessage.method)
                               .join(LineUser, LineUser.id == OutboundMessage.user_id).order_by(OutboundMessage.id)).all()
        received: dict[str, list] = {}
        for user, at in events:
            received.setdefault(user, []).append(at)
    by_reply = sum(1 for s in sent if s.method == "reply")
    # A user's answers go out in the order of their messages.
    latencies = sorted((at - received[user].pop(0)).total_seconds() for user, at, _ in sent if at and received.get(user))
    print(f"{args.database}, {args.turns} turns of {args.users} users, rate {args.rate or 'backlog'}, "
          f"LINE {args.line_ms:.0f} ms, {args.threads} threads")
    print(f"  answered in {wall:.1f} s ({args.turns / wall:.0f}/s), {by_reply} by reply of {len(sent)}")
    print(f"  worker CPU {cpu * 1000 / args.turns:.2f} ms/turn ({kernel * 1000 / args.turns:.2f} in the kernel); PostgreSQL CPU {pg_cpu * 1000 / args.turns:.2f} ms/turn")
    if latencies and args.rate:
        print(f"  sent after stored p50/p95 {statistics.median(latencies) * 1000:.0f}/"
              f"{latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms")
    if args.statements:
        print_statements(services, args.turns)
    if profiles:
        stats = pstats.Stats(*profiles.values())
        stats.dump_stats(args.profile)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(30)
    services.close()
    line.terminate()
    if cluster:
        cluster.stop()


if __name__ == "__main__":
    main()

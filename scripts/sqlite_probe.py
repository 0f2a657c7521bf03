"""A quick probe of the service on SQLite (issue 20): `python -m scripts.sqlite_probe [PHASE ...]`.

The benchmark's phases (bench/run.py: same processes, fake LINE, load generator and arithmetic)
for SQLite alone, without the operator's chats, so one can be run in a few minutes before and
after a change: baseline, ingress (max rate), ack (500 events/s), turns (50/s), burst (3,000
users in 10 s). With no argument, all of them. Run it niced (`nice -n 10`) beside other work.
"""

from __future__ import annotations

import logging
import sys
import time

from bench import report
from bench.run import (Options, Run, drop_backlog, make_batch, measure_baseline, open_database, post, queue_counts,
                       start_service, wait_answered, wait_idle)
from bench.processes import log

PHASES = ("baseline", "ingress", "ack", "turns", "burst")


def _cpu(run: Run) -> str:
    return run.cpu.stop() if run.cpu else ""


def ingress(run: Run) -> None:
    batch = make_batch(run.line, run.service.port, 0xA1, run.opts.max_bodies, 2000, pace="max",
                       duration=run.opts.max_seconds, connections=run.opts.connections)
    run.cpu.start()
    posts = post(batch, run.work)
    summary = report.ingress_summary(posts)
    ratio = summary.rate / run.results.baseline.rate if run.results.baseline.rate else float("nan")
    log(f"ingress: {summary}; ratio {ratio:.2f}; CPU {_cpu(run)}; queue {queue_counts(run.db)}")
    log(f"  dropped {drop_backlog(run.db, run.opts.drain_timeout)}")


def ack(run: Run) -> None:
    count = int(report.ACK_RATE * run.opts.ack_seconds)
    batch = make_batch(run.line, run.service.port, 0xA2, count, 2000, pace="rate", rate=report.ACK_RATE,
                       duration=run.opts.ack_seconds, connections=32)
    run.cpu.start()
    posts = post(batch, run.work)
    log(f"ack at 500/s: {report.ingress_summary(posts, from_due=True, planned=count)}; CPU {_cpu(run)}")
    log(f"  dropped {drop_backlog(run.db, run.opts.drain_timeout)}")


def turns(run: Run) -> None:
    count = int(report.STEADY_RATE * run.opts.steady_seconds)
    batch = make_batch(run.line, run.service.port, 0xA3, count, run.opts.steady_users, pace="rate",
                       rate=report.STEADY_RATE, duration=run.opts.steady_seconds, connections=16)
    run.cpu.start()
    posts = post(batch, run.work)
    wait_answered(run.line, posts, 60)
    replies, pushes = run.line.calls.snapshot()
    log(f"turns at 50/s: {report.turn_summary(posts, replies, pushes, planned=count)}; CPU {_cpu(run)}")
    wait_idle(run.db, run.opts.drain_timeout)


def burst(run: Run) -> None:
    batch = make_batch(run.line, run.service.port, 0xA4, report.BURST_USERS, report.BURST_USERS, pace="rate",
                       rate=report.BURST_USERS / report.BURST_SECONDS, duration=report.BURST_SECONDS,
                       connections=32, lead=4.0)
    run.cpu.start()
    posts = post(batch, run.work)
    failed = sum(p.status != 200 for p in posts)
    wait_answered(run.line, posts, run.opts.burst_wait)
    replies, pushes = run.line.calls.snapshot()
    log(f"burst: {failed} posts failed; {report.turn_summary(posts, replies, pushes, planned=report.BURST_USERS)}; "
        f"CPU {_cpu(run)}")


def main(argv: list[str]) -> int:
    phases = argv or list(PHASES)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    run = Run("sqlite", Options(databases=("sqlite",), burst_wait=120.0))
    started = time.monotonic()
    try:
        open_database(run)
        if "baseline" in phases:
            measure_baseline(run)
        start_service(run)  # with its CPU meter
        for phase in ("ingress", "ack", "turns", "burst"):
            if phase in phases:
                globals()[phase](run)
        run.failed = False
    finally:
        run.close()
    log(f"probe done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

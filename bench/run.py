"""The benchmark: `python -m bench.run` (what `make bench` runs; not part of `make test`).

For PostgreSQL (a throwaway cluster) and then SQLite, it starts the service as in production
(gunicorn web processes with the Procfile's settings, `python -m bot.queue.worker` processes) against
the fake LINE platform on loopback (`bench/line.py`), which answers every API call after
`--line-latency` ms (50 by default: LINE's round trip over the internet; 0 for comparison), and
drives it from a load generator in a process of its own (`bench/loadgen.py`) posting pre-signed
webhook bodies over kept-alive and new connections. Phases, in order (`bench/phases.py`):

1. ingress, three paired probes: a minimal Flask app on the same gunicorn settings that only
   verifies the signature, posted to as fast as the generator can (closed loop), and at once the
   service the same way; the events the service could not turn meanwhile are then dropped from
   the queue (marked done) so the next probe starts on an idle queue. The targets are on the
   median of the three ratios and of the service's three rates;
2. ack latency: the service at a steady 500 events/s (open loop); backlog dropped again;
3. turns: 50 turns/s (open loop) from a pool of users, each timed from the webhook post to the
   answer's arrival at the fake LINE, by reply token or, where the bot fell back, by push;
   meanwhile an operator answers chats taken before the phase (`bench/chats.py`), 2 messages/s,
   each timed from its commit to its arrival at the fake LINE. The CPU the workers and PostgreSQL
   used in this phase, divided by the turns answered, is the CPU per turn;
4. burst: 3,000 new users, one message each, within 10 s; the time from its first post until the
   last is answered, and each user's time from post to answer;
5. peak resident memory (VmHWM) of every gunicorn and bot.queue.worker process.

Then it prints one table per database with each of that database's targets (bench/report.py,
`POSTGRESQL` and `SQLITE`) and PASS or MISS, and exits 0 only when every target of every database
run was met. Every loop and wait is bounded; a phase that runs out of time is reported as a miss,
never waited on forever. `--turns-only` runs only the turns phase (with the operator): a quick
check, not a measurement of the other targets; `--probes`, `--probe-seconds`, `--ack-seconds`,
`--steady-seconds` and `--burst-users` shorten a run for a smoke check (fewer than three probes or
3,000 users is then a miss). `--profile DIR` also samples one gunicorn worker during the first
ingress probe and one bot.queue.worker during the burst with py-spy (`pip install py-spy`) and
prints their top frames.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path

from bench import report
from bench.phases import (
    Options,
    Run,
    measure_ack,
    measure_burst,
    measure_ingress,
    measure_memory,
    measure_turns,
    open_database,
    print_profiles,
    start_service,
)
from bench.processes import log


def bench(database: str, opts: Options) -> report.Results:
    run = Run(database, opts)
    try:
        open_database(run)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--workers", type=int, default=Options.workers, help="bot.queue.worker processes")
    parser.add_argument("--line-latency", type=float, default=Options.line_latency_ms, metavar="MS",
                        help="the fake LINE's delay on every API call (0 for none)")
    parser.add_argument("--probes", type=int, default=Options.probes, help="paired ingress probes")
    parser.add_argument("--probe-seconds", type=float, default=Options.probe_seconds,
                        help="each half of an ingress probe")
    parser.add_argument("--ack-seconds", type=float, default=Options.ack_seconds)
    parser.add_argument("--steady-seconds", type=float, default=Options.steady_seconds)
    parser.add_argument("--burst-users", type=int, default=Options.burst_users)
    parser.add_argument("--turns-only", action="store_true",
                        help="only the turns phase and the operator's chat messages (a quick check)")
    parser.add_argument("--profile", type=Path, help="folder for py-spy profiles (py-spy must be installed)")
    args = parser.parse_args(argv)
    if args.line_latency < 0 or args.probes < 1 or args.burst_users < 1:
        parser.error("--line-latency must be 0 or more, --probes and --burst-users 1 or more")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fake LINE's request lines
    opts = Options(databases=("postgresql", "sqlite") if args.database == "both" else (args.database,),
                   workers=args.workers, line_latency_ms=args.line_latency, probes=args.probes,
                   probe_seconds=args.probe_seconds, ack_seconds=args.ack_seconds,
                   steady_seconds=args.steady_seconds, burst_users=args.burst_users, turns_only=args.turns_only,
                   profile_dir=args.profile)
    if opts.profile_dir:
        opts.profile_dir.mkdir(parents=True, exist_ok=True)
    log(f"{os.cpu_count()} cores; WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2')}, "
        f"WEB_THREADS={os.environ.get('WEB_THREADS', '4')}, WORKER_THREADS={os.environ.get('WORKER_THREADS', '4')}, "
        f"{opts.workers} bot.queue.worker processes; the fake LINE answers after {opts.line_latency_ms:g} ms")
    tables, met = [], True
    for database in opts.databases:
        try:
            results = bench(database, opts)
            tables.append(report.render(results))
            met = met and report.missed(results) == 0
        except Exception as e:  # noqa: BLE001 (one database failing still prints the other's table)
            traceback.print_exc()
            tables.append(f"== {database} ==\nthe run failed: {type(e).__name__}: {e}")
            met = False
        print("\n" + tables[-1] + "\n", flush=True)
    print("\n== summary (issue 20's targets, each database its own, 2 cores) ==")
    print("\n\n".join(tables))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

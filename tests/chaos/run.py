"""The fault suite: `python -m tests.chaos.run --users 500 --events 10000` (what `make chaos` runs).

It starts the real service (gunicorn web, two `bot.queue.worker` processes, a throwaway PostgreSQL
cluster) against the fake LINE platform and the fake Entra ID and Graph on loopback, and drives it
with a scripted population: each user follows, agrees to the policy, books through the whole
conversation, some cancel, and the rest of their events are ordinary chatter; a share ask for a
person instead of booking, and chat with an operator played by the driver (`chats.py`). Meanwhile:

- the fake LINE answers 429 or 500 to 20% of calls and stalls on some (shorter than the client's
  read timeout);
- the fake Graph answers 429 (Retry-After) or 503 to 30% of calls and is down for a while midway;
- 10% of the events are posted twice (same webhookEventId) or redelivered later;
- a worker is SIGKILLed a few times and started again;
- the run starts on a Tuesday morning and, once twenty users (or two fifths) have booked, the
  night passes: users stop writing, the queue drains, the service stops and starts again a day
  later (`days.py`), so that sessions booked for the Wednesday are today's and users say
  遅れる・参加できない (`moves.py`).

Then it waits (bounded) for the queue to drain and checks, from the database and the fakes'
records, that every event was processed exactly once, every bot message delivered exactly once,
every confirmed booking has one Teams event and one join-link message, every cancellation reached
Graph, no slot holds two bookings, no job is dead without an operator alert, every operator chat
message reached its user once, no chat is left open and the bot answered nothing written in one,
moved bookings' Teams events moved with them and same-day contacts were made. Any shortfall is
printed and the exit status is 1. Nothing here passes or fails on time: waits are only bounded.

This module is the command line and puts the run together; the pieces are in `service.py` (the
service's processes), `driver.py` (the size and the population), `faults.py` (the faulty fakes and
the schedule of outages, kills and the night), `days.py` (the run's clock) and `invariants.py` (the checks at the end).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from bot.demo import load_demo_data
from bot.clock import system_clock
from bot.config import Config
from bot.services import Services
from models.database import Database
from tests.chaos.chats import ChatDesk
from tests.chaos.days import Calendar
from tests.chaos.driver import ACCESS_TOKEN, CHANNEL_SECRET, ORGANIZER, Size
from tests.chaos.faults import ChaoticGraph, ChaoticLine, disturb
from tests.chaos.invariants import check, drain, scan_logs
from tests.chaos.moves import MovingDriver, check_moves, check_same_day
from tests.chaos.service import Service
from tests.support.fake_entra import FakeEntra
from tests.support.https_fake import trusting
from tests.support.postgres import _free_port, start_cluster


def run(size: Size, log=print) -> list[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fakes' request lines would drown the report
    calendar = Calendar()  # before anything reads the time: the run's Tuesday, then its Wednesday
    cluster = start_cluster()
    work = Path(tempfile.mkdtemp(prefix="desk-chaos-"))
    rng = random.Random(size.seed)
    line = ChaoticLine(size, random.Random(rng.random()))
    entra = FakeEntra()
    graph = ChaoticGraph(entra, size, random.Random(rng.random()))
    service = None
    db = None
    desk = None
    keep_logs = True  # the service's logs stay for a look unless every check held
    try:
        url = cluster.migrated_database("chaos")
        db = Database(url, pool_size=10, clock=system_clock)
        load_demo_data(db)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "DATABASE_URL", "GRAPH_"))}
        env.update(
            PYTHONUNBUFFERED="1", PORT=str(_free_port()), DATABASE_URL=url, SECRET_KEY="chaos",
            INSTANCE_PATH=str(work / "instance"),
            LINE_CHANNEL_SECRET=CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN, LINE_API_BASE_URL=line.url,
            PUBLIC_BASE_URL="https://desk.example.jp",
            GRAPH_TENANT_ID=entra.tenant, GRAPH_CLIENT_ID=entra.client_id, GRAPH_CLIENT_SECRET=entra.client_secret,
            GRAPH_ORGANIZER=ORGANIZER, GRAPH_AUTHORITY=entra.authority, GRAPH_BASE_URL=graph.base_url,
            REQUESTS_CA_BUNDLE=entra.ca_path, CURL_CA_BUNDLE=entra.ca_path,
            JOB_LEASE_SECONDS="30", WORKER_POLL_SECONDS="0.1", SCHEDULER_SECONDS="10",
            CHAT_HOURS="always",
        )
        log(f"logs in {work}")
        service = Service(calendar.service_env(env), work, size.workers)
        service.wait_ready()
        driver = MovingDriver(size, service, line, db)  # the population, with moves (tests/chaos/moves.py)
        # The operator's console: the handlers on the service's own database and settings.
        desk_services = Services.create(Config.from_env({k: v for k, v in env.items() if not k.startswith("GRAPH_")}),
                                        pool_size=4)
        desk = ChatDesk(driver, desk_services, random.Random(rng.random()))
        desk.start()

        def night() -> None:  # the day's work done, the service restarted the next morning
            driver.night_falls()
            drain(db, size.drain_timeout, log)
            service.stop()
            calendar.next_day()
            service.start_again(calendar.service_env(service.env))
            driver.morning()

        disturber = disturb(driver, graph, log, night)
        try:
            with trusting(entra.ca_path):
                driver.run_population()
        finally:
            driver.stop.set()
            desk.stop()
            disturber.join(5)
        log(f"population done: {driver.tally.posted} events; waiting for the queue to drain")
        queue = drain(db, size.drain_timeout, log)
        shortfalls = [f"a fault the run could not make: {e}" for e in driver.fault_errors]
        shortfalls += check(driver, line, graph, db, queue) + check_moves(graph, db)
        if calendar.days_passed:
            shortfalls += check_same_day(db, log)
        service.stop()  # flushes the processes' logs for the scan
        service = None
        shortfalls += scan_logs(work, [CHANNEL_SECRET, ACCESS_TOKEN, entra.client_secret])
        if not shortfalls:
            keep_logs = False
        return shortfalls
    finally:
        if service is not None:
            service.stop()
        if desk is not None:
            desk.stop()
            desk.services.close()
        if db is not None:
            db.dispose()
        line.close()
        graph.close()
        entra.close()
        cluster.stop()
        calendar.close()
        if not keep_logs:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=Size.users)
    parser.add_argument("--events", type=int, default=Size.events)
    parser.add_argument("--graph-down", type=float, default=Size.graph_down_seconds, help="seconds")
    parser.add_argument("--kills", type=int, default=Size.kills)
    parser.add_argument("--seed", type=int, default=Size.seed)
    parser.add_argument("--concurrency", type=int, default=Size.concurrency, help="users in flight at once")
    args = parser.parse_args(argv)
    size = Size(users=args.users, events=args.events, graph_down_seconds=args.graph_down, kills=args.kills,
                seed=args.seed, concurrency=args.concurrency)
    shortfalls = run(size)
    if shortfalls:
        print("\nFAILED: shortfalls")
        for line in shortfalls:
            print(f"- {line}")
        return 1
    print("\nOK: every check held")
    return 0


if __name__ == "__main__":
    sys.exit(main())

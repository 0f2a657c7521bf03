"""The worker: `python -m bot.worker`. Claims jobs from the database and runs them.

Run as many as the load needs, on as many hosts: the queue keeps each user's work in order and
each job with one worker at a time. SIGTERM or SIGINT lets running jobs finish, then exits.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from typing import Callable

from models import OperatorAlert

from . import delivery, handoff, jobs, outbox, scheduler, turns
from .config import Config
from .ingest import EVENT_JOB
from .services import Services

log = logging.getLogger("bot.worker")

Handler = Callable[[Services, dict], None]

HANDLERS: dict[str, Handler] = {
    EVENT_JOB: turns.process_event,
    outbox.DELIVER_JOB: delivery.deliver,
    handoff.CREATE: handoff.create_meeting,
    handoff.CANCEL: handoff.cancel_meeting,
    handoff.UPDATE: handoff.update_meeting,
}


class Worker:
    def __init__(self, services: Services, handlers: dict[str, Handler] | None = None) -> None:
        self.services = services
        self.handlers = handlers or HANDLERS
        self.stopping = threading.Event()

    def run_once(self) -> bool:
        """Claim and run one job; False when nothing was due."""
        config = self.services.config
        with self.services.db.transaction() as session:
            claimed = jobs.claim(session, lease_seconds=config.job_lease_seconds, limit=1)
        for claim in claimed:
            self._execute(claim)
        return bool(claimed)

    def run_until_idle(self, *, timeout: float = 30.0) -> int:
        """Run due jobs until none is left (for tests and one-off use); returns how many ran."""
        ran, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline and self.run_once():
            ran += 1
        return ran

    def _execute(self, claim: jobs.Claim) -> None:
        db = self.services.db
        handler = self.handlers.get(claim.kind)
        try:
            if claim.attempts > claim.max_attempts:
                raise jobs.GiveUp("its worker stopped mid-job too many times")
            if handler is None:
                raise jobs.GiveUp(f"no handler for job kind {claim.kind!r}")
            handler(self.services, claim.payload)
        except jobs.RetryLater as e:
            self._record_failure(claim, str(e), delay=e.delay)
        except jobs.GiveUp as e:
            self._record_failure(claim, str(e), final=True)
        except Exception as e:
            log.exception("job %s (%s) failed on attempt %s", claim.id, claim.kind, claim.attempts)
            self._record_failure(claim, f"{type(e).__name__}: {e}")
        else:
            try:
                with db.transaction() as session:
                    jobs.complete(session, claim)
            except jobs.LeaseLost:
                log.warning("job %s finished after its lease was taken over", claim.id)

    def _record_failure(self, claim: jobs.Claim, error: str, *, delay: float | None = None,
                        final: bool = False) -> None:
        try:
            with self.services.db.transaction() as session:
                status = jobs.fail(session, claim, error, delay=delay, final=final)
                if status == "dead":
                    session.add(OperatorAlert(
                        kind="job_dead", booking_id=claim.payload.get("booking_id"),
                        message=f"Background job #{claim.id} ({claim.kind}) gave up after {claim.attempts} "
                                f"attempts: {error[:300]}"))
        except jobs.LeaseLost:
            log.warning("job %s failed after its lease was taken over", claim.id)
            return
        if status == "dead":
            log.error("job %s (%s) is dead after %s attempts", claim.id, claim.kind, claim.attempts)
        else:
            log.info("job %s (%s) will be retried: attempt %s failed", claim.id, claim.kind, claim.attempts)

    def _loop(self) -> None:
        poll = self.services.config.worker_poll_seconds
        while not self.stopping.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("claiming jobs failed; retrying shortly")
                busy = False
            if not busy:
                self.stopping.wait(poll * random.uniform(0.5, 1.5))

    def _schedule(self) -> None:
        every = self.services.config.scheduler_seconds
        while not self.stopping.wait(every * random.uniform(0.5, 1.0)):
            try:
                scheduler.run_periodic(self.services)
            except Exception:
                log.exception("periodic work failed; trying again at the next tick")

    def run(self) -> None:
        threads = [
            threading.Thread(target=self._loop, name=f"worker-{i}", daemon=True)
            for i in range(self.services.config.worker_threads)
        ] + [threading.Thread(target=self._schedule, name="scheduler", daemon=True)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.5)

    def stop(self, *_args: object) -> None:
        self.stopping.set()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = Config.from_env()
    services = Services.create(config, pool_size=config.worker_threads)
    worker = Worker(services)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    log.info("worker started with %s threads (%s mode)", config.worker_threads,
             "simulator" if config.simulator else "LINE")
    try:
        worker.run()
    finally:
        services.close()
        log.info("worker stopped")


if __name__ == "__main__":
    main()

"""The worker: `python -m bot.queue.worker`. Claims jobs from the database and runs them.

Run as many as the load needs, on as many hosts: the queue keeps each user's work in order and
each job with one worker at a time. SIGTERM or SIGINT lets running jobs finish, then exits.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bot.config import Config
from bot.ops.logs import configure_logging, job_context  # observability
from bot.ops.metrics import job_failed, serve_worker_metrics, timed_job  # observability
from bot.queue import jobs, scheduler
from bot.queue.wakeup import Wakeup
from bot.services import Services
from handlers import alerts
from handlers.registry import HANDLERS, SENDING_KINDS, Handler

log = logging.getLogger("bot.queue.worker")


class Worker:
    def __init__(self, services: Services, handlers: dict[str, Handler] | None = None) -> None:
        self.services = services
        self.handlers = handlers or HANDLERS
        self.stopping = threading.Event()
        self.wakeup = Wakeup()
        # The sending threads (`run` starts them); a slot is taken before a send is handed over, so
        # a send never waits in the pool's queue while its lease runs.
        self._senders: ThreadPoolExecutor | None = None
        self._send_slots = threading.Semaphore(0)

    def run_once(self) -> bool:
        """Claim and run one job, and the jobs it hands on; False when nothing was due."""
        claimed = self._claim(1)
        if not claimed:
            return False
        self._run(claimed)
        return True

    def _claim(self, limit: int) -> list[jobs.Claim]:
        with self.services.db.queue() as connection:
            return jobs.claim(connection, now=self.services.clock(), lease_seconds=self.services.config.job_lease_seconds, limit=limit)

    def _run(self, chain: list[jobs.Claim], *, hand_over: bool = False) -> None:
        """Run jobs in order, and after them the jobs they hand on (a turn's answer): on a sending
        thread when `hand_over` and one is free, else on this thread."""
        while chain:
            current = chain.pop(0)
            with job_context(current.id, current.kind), timed_job(current.kind):  # observability: log fields, metrics
                chain.extend(self._execute(current))
            if chain and hand_over and self._send_later(chain):
                return

    def _send_later(self, chain: list[jobs.Claim]) -> bool:
        """Hand jobs that wait on others (LINE, Graph) to a free sending thread; False when none is
        free (the caller runs them itself, as before there were sending threads)."""
        if self._senders is None or not self._send_slots.acquire(blocking=False):
            return False

        def send() -> None:
            try:
                self._run(chain)
            except Exception:
                log.exception("jobs %s could not be run", [c.id for c in chain])
            finally:
                self._send_slots.release()

        # The whole chain on one thread: a turn's answers share the turn's lease token, and the
        # queue treats them as one chain, whose order holds only while they run in sequence.
        self._senders.submit(send)
        return True

    def run_until_idle(self, *, timeout: float = 30.0) -> int:
        """Run due jobs until none is left (for tests and one-off use); returns how many ran."""
        ran, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline and self.run_once():
            ran += 1
        return ran

    def _execute(self, claim: jobs.Claim) -> list[jobs.Claim]:
        """Run one job; returns the jobs it handed on to this worker."""
        db = self.services.db
        handler = self.handlers.get(claim.kind)
        current = jobs.Running(claim, self.services.config.job_lease_seconds)
        reset = jobs.running.set(current)
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
            if not current.completed:
                try:
                    with db.transaction() as session:
                        jobs.complete(session, claim)
                except jobs.LeaseLost:
                    log.warning("job %s finished after its lease was taken over", claim.id)
            return current.handed_on
        finally:
            jobs.running.reset(reset)
        # Jobs handed on by a transaction that committed before the failure wait out their lease.
        return []

    def _record_failure(self, claim: jobs.Claim, error: str, *, delay: float | None = None,
                        final: bool = False) -> None:
        try:
            with self.services.db.transaction() as session:
                status = jobs.fail(session, claim, error, delay=delay, final=final)
                if status == "dead":
                    # A dead channel post is shown in the console only: posting it would fail the same way.
                    alerts.raise_alert(session, self.services.config, alerts.JOB_DEAD,
                                       f"Background job #{claim.id} ({claim.kind}) gave up after {claim.attempts} "
                                       f"attempts: {error[:300]}", claim.payload.get("booking_id"),
                                       to_channel=claim.kind != alerts.CHANNEL_JOB)
        except jobs.LeaseLost:
            log.warning("job %s failed after its lease was taken over", claim.id)
            return
        job_failed(claim.kind, status)  # observability: desk_job_failures_total
        if status == "dead":
            log.error("job %s (%s) is dead after %s attempts", claim.id, claim.kind, claim.attempts)
        else:
            log.info("job %s (%s) will be retried: attempt %s failed", claim.id, claim.kind, claim.attempts)

    def _dispatch(self, pool: ThreadPoolExecutor, threads: int) -> None:
        """Claim as many jobs as there are idle threads, in one transaction, and hand them out.

        One claiming loop per process: idle threads used to poll the queue each on their own,
        and a quarter of a busy worker's time went to claim queries that found nothing.
        """
        idle = threading.Semaphore(threads)
        poll = self.services.config.worker_poll_seconds

        def run_then_free(claim: jobs.Claim) -> None:
            try:
                self._run([claim], hand_over=True)
            except Exception:
                log.exception("job %s could not be run", claim.id)
            finally:
                idle.release()

        while not self.stopping.is_set():
            if not idle.acquire(timeout=0.5):
                continue
            wanted = 1
            while wanted < threads and idle.acquire(blocking=False):
                wanted += 1
            self.wakeup.clear()  # a job stored from here on ends the wait below
            try:
                claimed = self._claim(wanted)
            except Exception:
                log.exception("claiming jobs failed; retrying shortly")
                claimed = []
            for _ in range(wanted - len(claimed)):
                idle.release()
            for claim in claimed:
                if claim.kind in SENDING_KINDS and self._send_later([claim]):  # a retry, or an answer that waited its turn
                    idle.release()
                else:
                    pool.submit(run_then_free, claim)
            # Fewer than wanted: nothing more was due. Claiming again as each thread came free found
            # nothing and cost a claim per turn; a job stored since ends the wait (PostgreSQL's
            # notifications, SQLite's watch in bot/queue/wakeup.py), and the poll bounds the rest.
            if not claimed or (len(claimed) < wanted and self.wakeup.notified):
                self.wakeup.wait(poll * random.uniform(0.5, 1.5))

    def _schedule(self) -> None:
        every = self.services.config.scheduler_seconds
        while not self.stopping.wait(every * random.uniform(0.5, 1.0)):
            try:
                scheduler.run_periodic(self.services)
            except Exception:
                log.exception("periodic work failed; trying again at the next tick")

    def run(self) -> None:
        threads = self.services.config.worker_threads
        self.wakeup.listen(self.services.db)
        scheduler_thread = threading.Thread(target=self._schedule, name="scheduler", daemon=True)
        scheduler_thread.start()
        senders = self.services.config.worker_send_threads
        # On stop, each pool's exit lets its running jobs finish: the turns' first, since a turn
        # that ends hands its answer to a sending thread.
        with ThreadPoolExecutor(max(1, senders), thread_name_prefix="send") as self._senders:
            self._send_slots = threading.Semaphore(senders)
            with ThreadPoolExecutor(threads, thread_name_prefix="job") as pool:
                dispatcher = threading.Thread(target=self._dispatch, args=(pool, threads), name="claims", daemon=True)
                dispatcher.start()
                while dispatcher.is_alive():
                    dispatcher.join(0.5)
        self._senders = None
        scheduler_thread.join(5)

    def stop(self, *_args: object) -> None:
        self.stopping.set()
        self.wakeup.stop()


def lower_priority(nice: int) -> None:
    """Run below the web processes, so LINE's webhook is answered first when the CPU is short."""
    os.nice(nice)
    # Linux's autogroup scheduling (on by default) shares the CPU out between sessions first, and a
    # process's nice only ranks it within its session. A worker in a session of its own (systemd
    # starts each service so, as does the benchmark) lowers the session's priority too; measured,
    # os.nice alone left the workers with as much CPU as the web under a webhook flood.
    if os.getsid(0) == os.getpid():
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(nice))
        except OSError:
            pass  # no autogroup scheduling here: os.nice is enough


def main() -> None:
    config = Config.from_env()
    configure_logging(config)  # observability: LOG_FORMAT, LOG_LEVEL (bot/ops/logs.py)
    serve_worker_metrics(config)  # observability: METRICS_PORT, METRICS_BIND (bot/ops/metrics.py)
    if config.worker_nice:
        lower_priority(config.worker_nice)
    # A connection for each thread: a pool smaller than that opens and closes connections under load.
    services = Services.create(config, pool_size=config.worker_threads + config.worker_send_threads)
    worker = Worker(services)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    log.info("worker started with %s threads and %s sending threads (%s mode)", config.worker_threads,
             config.worker_send_threads, "simulator" if config.simulator else "LINE")
    try:
        worker.run()
    finally:
        services.close()
        log.info("worker stopped")


if __name__ == "__main__":
    main()

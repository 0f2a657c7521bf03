"""The job queue on its own: order per key, leases, retries, and jobs that give up."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import insert, select, update

from bot.queue import jobs
from bot.queue.worker import Worker
from models import Job, OperatorAlert
from tests.conftest import make_jobs_due


def add(db, kind: str, key: str | None, **payload) -> int:
    with db.transaction() as session:
        return jobs.enqueue(session, kind, payload, queue_key=key, max_attempts=3)


def claim(db, limit: int = 10) -> list[jobs.Claim]:
    with db.queue() as connection:
        return jobs.claim(connection, now=db.clock(), lease_seconds=30, limit=limit)


def users_waiting(db, count: int) -> None:
    """A first message of `count` new users, waiting to be turned (as after a burst)."""
    now = db.clock()
    with db.transaction() as session:
        session.execute(insert(Job), [{"kind": "k", "queue_key": f"in:user-{n}", "payload": {}, "status": "pending",
                                       "attempts": 0, "max_attempts": 3, "run_at": now, "created_at": now}
                                      for n in range(count)])


def quickest(action) -> float:
    """The least time `action` took, of a few (the machine's own hiccups left out)."""
    times = []
    for _ in range(7):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def test_only_the_oldest_live_job_of_a_key_can_be_claimed(services):
    first = add(services.db, "k", "user-1")
    add(services.db, "k", "user-1")
    other = add(services.db, "k", "user-2")
    assert [c.id for c in claim(services.db)] == [first, other]
    assert claim(services.db) == []  # the second job of user-1 waits for the first


def test_a_job_whose_lease_ran_out_is_claimed_again(services):
    job = add(services.db, "k", "user-1")
    [taken] = claim(services.db)
    with services.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job).values(lease_until=services.clock() - timedelta(seconds=1)))
    [again] = claim(services.db)
    assert again.id == job and again.attempts == 2 and again.lease_token != taken.lease_token
    with services.db.transaction() as session:  # the first holder can no longer finish it
        try:
            jobs.complete(session, taken)
            raise AssertionError("a lost lease completed the job")
        except jobs.LeaseLost:
            pass


def test_a_failing_job_is_retried_later_then_ends_dead_with_an_operator_alert(services):
    def broken(_services, _payload):
        raise RuntimeError("boom")

    add(services.db, "broken", "user-1")
    worker = Worker(services, {"broken": broken})
    for _ in range(3):
        worker.run_until_idle()
        make_jobs_due(services.db)
    with services.db.transaction() as session:
        job = session.scalar(select(Job))
        assert (job.status, job.attempts) == ("dead", 3) and "boom" in job.last_error
        [alert] = session.scalars(select(OperatorAlert)).all()
        assert alert.kind == "job_dead" and f"#{job.id}" in alert.message


def test_a_dead_job_no_longer_holds_up_the_users_later_work(services):
    ran = []
    add(services.db, "broken", "user-1")
    add(services.db, "fine", "user-1")
    worker = Worker(services, {"broken": lambda s, p: (_ for _ in ()).throw(jobs.GiveUp("never")),
                               "fine": lambda s, p: ran.append(p)})
    worker.run_until_idle()
    assert ran == [{}]


def test_backoff_grows_and_is_jittered():
    waits = [jobs.backoff_seconds(n) for n in (1, 2, 3, 4)]
    assert 0.5 <= waits[0] <= 1 and 4 <= waits[3] <= 8
    assert len({jobs.backoff_seconds(5) for _ in range(20)}) > 1


def test_an_answer_waits_for_an_earlier_answer_claimed_together_with_its_turn(services):
    """One claim can take a user's pending delivery and the turn of their next message, to run on
    two threads; the turn's answer must then wait for that delivery, not go out beside it."""
    earlier_answer = add(services.db, "deliver", "out:user-1")
    next_turn = add(services.db, "turn", "in:user-1")
    delivery, turn = claim(services.db)
    assert (delivery.id, turn.id) == (earlier_answer, next_turn)
    running = jobs.Running(turn, 30)
    reset = jobs.running.set(running)
    try:
        with services.db.transaction() as session:
            answer = jobs.enqueue(session, "deliver", {}, queue_key="out:user-1", run_next=True)
    finally:
        jobs.running.reset(reset)
    assert running.handed_on == []  # not run next on the turn's thread
    with services.db.transaction() as session:
        assert session.get(Job, answer).status == "pending"


def test_with_thousands_of_users_waiting_a_claim_costs_about_as_much_as_queueing_one_job(services):
    # While a worker claims, SQLite lets no one else write, the webhook's stores included. On SQLite
    # the claim once checked each job of its window against every older live job: ten plain writes.
    users_waiting(services.db, 8000)
    claim(services.db)  # its statements are prepared now, not while being timed
    one_job = quickest(lambda: add(services.db, "k", "another-user"))
    one_claim = quickest(lambda: claim(services.db, limit=1))
    assert one_claim < 4 * one_job, (one_claim, one_job)

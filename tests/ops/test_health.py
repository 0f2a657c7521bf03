"""/healthz (the process answers) and /readyz (the database answers and the job queue keeps up)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot import create_app
from bot.queue import jobs
from models import Job

USER = "U" + "1" * 32
DEAD_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/none"


@pytest.fixture
def unreachable_app(config):
    app = create_app(config.but(database_url=DEAD_DATABASE))
    yield app
    app.extensions["services"].close()


def test_liveness_answers_even_when_the_database_is_down(unreachable_app):
    response = unreachable_app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readiness_is_503_when_the_database_is_unreachable(unreachable_app):
    response = unreachable_app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_readiness_reports_the_database_and_an_empty_queue(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "backlog": "ok", "backlog_seconds": 0.0,
                             "max_backlog_seconds": 60.0}


def make_oldest_job_wait(app, seconds: float) -> None:
    with app.extensions["db"].transaction() as session:
        oldest = session.scalar(select(Job.id).where(Job.status == "pending").order_by(Job.id).limit(1))
        session.execute(update(Job).where(Job.id == oldest).values(run_at=app.extensions["db"].clock() - timedelta(seconds=seconds)))


def test_readiness_is_503_while_the_queue_is_behind_and_200_once_the_worker_caught_up(app, client, line, worker):
    assert line.post(line.follow(USER)).status_code == 200
    make_oldest_job_wait(app, 120)

    behind = client.get("/readyz")
    assert behind.status_code == 503
    assert behind.json["backlog"] == "behind"
    assert behind.json["backlog_seconds"] >= 120

    worker.run_until_idle()
    assert line.received(USER)  # the greeting went out
    caught_up = client.get("/readyz")
    assert caught_up.status_code == 200
    assert caught_up.json["backlog_seconds"] == 0.0


def test_a_job_waiting_for_its_retry_time_is_not_backlog(app, client):
    with app.extensions["db"].transaction() as session:
        jobs.enqueue(session, "deliver", {}, run_at=session.info["clock"]() + timedelta(minutes=5))
    assert client.get("/readyz").status_code == 200


def test_the_backlog_limit_is_a_setting(config, clock):
    strict = create_app(config.but(ready_max_backlog_seconds=5), clock=clock)
    try:
        with strict.extensions["db"].transaction() as session:
            jobs.enqueue(session, "deliver", {}, run_at=clock() - timedelta(seconds=10))
        response = strict.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.json["max_backlog_seconds"] == 5
    finally:
        strict.extensions["services"].close()


def test_readiness_answers_within_seconds_while_another_transaction_locks_the_job_queue(app, client):
    engine = app.extensions["db"].engine
    with engine.connect() as locker:
        if engine.dialect.name == "postgresql":
            locker.exec_driver_sql("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
        else:  # the service's engine opens every transaction with BEGIN IMMEDIATE: the write lock
            locker.exec_driver_sql("UPDATE jobs SET attempts = attempts")
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
        locker.rollback()
    assert elapsed < 5
    # PostgreSQL: the probe's statement timeout ends the wait; SQLite: WAL readers never wait for a writer.
    assert response.status_code == (503 if engine.dialect.name == "postgresql" else 200)

"""Real worker processes: one user's messages stay in order across workers, and a killed worker loses nothing."""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import system_clock
from models import Job
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET
from tests.support.fake_line import REPLY
from tests.support.processes import kill_tree, service_env, start_worker, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def clock():
    """The workers here are processes of their own, on the machine's clock, so the test's app
    and services read that clock too."""
    return system_clock


@pytest.fixture
def worker_env(database_url, fake_line, tmp_path):
    def make(**overrides: str) -> dict[str, str]:
        return service_env(
            DATABASE_URL=database_url, LINE_CHANNEL_SECRET=CHANNEL_SECRET,
            LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN, LINE_API_BASE_URL=fake_line.url,
            SECRET_KEY="test", INSTANCE_PATH=str(tmp_path / "instance"), PUBLIC_BASE_URL="https://desk.example.jp",
            **{"WORKER_POLL_SECONDS": "0.05", "WORKER_THREADS": "4", **overrides},
        )
    return make


def job_statuses(db) -> set[str]:
    with db.transaction() as session:
        return set(session.scalars(select(Job.status)))


@pytest.fixture
def workers():
    started = []
    yield started
    for process in started:
        kill_tree(process)


# Three things anyone may send, each with its own recognisable answer.
ANSWER_STARTS = {"ヘルプ": "メニューからご用件", "よくある質問": "よくある質問", "メニュー": "ご用件をお選び"}


def test_two_workers_answer_each_users_burst_in_the_order_sent(line, worker_env, workers):
    rng = random.Random(7)
    users = [f"U{n:032x}" for n in range(1, 6)]
    bursts = {u: [rng.choice(list(ANSWER_STARTS)) for _ in range(20)] for u in users}
    workers.extend(start_worker(worker_env()) for _ in range(2))
    for i in range(20):
        for user in users:
            assert line.post(line.text(user, bursts[user][i])).status_code == 200
    wait_for(lambda: all(len(line.received(u)) == 20 for u in users), timeout=60)
    for user in users:
        answers = line.received(user)
        assert all(a.startswith(ANSWER_STARTS[said]) for said, a in zip(bursts[user], answers, strict=True))


def test_a_worker_killed_mid_job_is_replaced_and_the_user_is_answered_once(
        line, worker_env, workers, fake_line, services):
    fake_line.fail_next(REPLY, ("stall", 20))
    first = start_worker(worker_env(JOB_LEASE_SECONDS="2", LINE_READ_TIMEOUT="30"))
    workers.append(first)
    user = "U" + "9" * 32
    line.post(line.text(user, "メニュー"))
    wait_for(lambda: REPLY in fake_line.arrivals, timeout=20)  # the worker is inside its LINE call
    first.send_signal(signal.SIGKILL)
    first.wait(5)

    workers.append(start_worker(worker_env(JOB_LEASE_SECONDS="2")))
    wait_for(lambda: line.received(user), timeout=30)
    wait_for(lambda: job_statuses(services.db) == {"done"}, timeout=10)
    assert line.received(user) == ["ご用件をお選びください。"]


def test_a_worker_stops_cleanly_on_sigterm(worker_env, workers):
    process = start_worker(worker_env())
    workers.append(process)
    while b"worker started" not in process.stdout.readline():
        pass
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    assert b"worker stopped" in process.stdout.read()


def test_a_worker_runs_below_the_web_processes_cpu_priority(worker_env, workers):
    process = start_worker(worker_env(WORKER_NICE="7"))
    workers.append(process)
    while b"worker started" not in process.stdout.readline():
        pass
    nice = int(Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
    assert nice == 7
    # Alone in its session, it lowers the session's autogroup too, where the kernel has them.
    autogroup = Path(f"/proc/{process.pid}/autogroup")
    if autogroup.exists():
        assert autogroup.read_text().split()[-1] == "7"


def test_two_workers_answer_one_users_burst_of_fifty_in_the_order_sent(line, worker_env, workers, services):
    """One user sends 50 messages as fast as LINE delivers them while another user talks at the
    same time; two workers share the queue. Consecutive messages always differ, so any two replies
    delivered the wrong way round would show in what the user reads."""
    rng = random.Random(50)
    burst: list[str] = []
    for _ in range(50):
        burst.append(rng.choice([said for said in ANSWER_STARTS if not burst or said != burst[-1]]))
    talker, other = "U" + "5" * 32, "U" + "6" * 32
    other_says = [rng.choice(list(ANSWER_STARTS)) for _ in range(25)]
    workers.extend(start_worker(worker_env()) for _ in range(2))
    for i, said in enumerate(burst):
        assert line.post(line.text(talker, said)).status_code == 200
        if i % 2 == 0:
            assert line.post(line.text(other, other_says[i // 2])).status_code == 200
    wait_for(lambda: len(line.received(talker)) >= 50 and len(line.received(other)) >= 25, timeout=120)
    wait_for(lambda: job_statuses(services.db) == {"done"}, timeout=30)  # nothing more still to come
    for user, sent in ((talker, burst), (other, other_says)):
        answers = line.received(user)
        assert len(answers) == len(sent), f"{len(answers)} replies to {len(sent)} messages"
        out_of_order = [n for n, (said, answer) in enumerate(zip(sent, answers))
                        if not answer.startswith(ANSWER_STARTS[said])]
        assert not out_of_order, f"replies {out_of_order} do not answer the message sent in that place"


def test_an_idle_worker_answers_a_message_at_once_not_at_its_next_poll(line, worker_env, workers):
    """New events wake idle workers (PostgreSQL: the webhook's notification; SQLite: the worker
    watches the database): with a minute between polls, each message is still answered within
    seconds, the first one and one sent after the worker went idle again."""
    process = start_worker(worker_env(WORKER_POLL_SECONDS="60"))  # waits 30-90 s between empty polls
    workers.append(process)
    while b"worker started" not in process.stdout.readline():
        pass
    user = "U" + "7" * 32
    for n, said in enumerate(("メニュー", "ヘルプ"), 1):
        assert line.post(line.text(user, said)).status_code == 200
        wait_for(lambda: len(line.received(user)) == n, timeout=10)
        assert line.received(user)[-1].startswith(ANSWER_STARTS[said])

"""The fault suite at a small size (`make chaos` runs it at full size): the real service on
PostgreSQL, with LINE and Graph failing at their scripted rates, Graph down for a while, events
posted twice or redelivered and a worker SIGKILLed, loses no booking and sends nothing twice.
Below it, single faults of that kind, each set up on its own, and the scan of the service's logs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.demo import load_demo_data
from bot.teams.graph_api import GraphSettings
from bot.services import Services
from bot.queue.worker import Worker
from models import Booking
from tests.chaos.driver import Size
from tests.chaos.invariants import scan_logs
from tests.chaos.run import run
from tests.conftest import make_jobs_due
from tests.support.chat import TUESDAY_MORNING, Chat, play, says, tap
from tests.support.fake_line import REPLY
from tests.support.fake_microsoft import FakeMicrosoft
from tests.support.processes import wait_for
from tests.support.scripts import BOOKED


@pytest.mark.slow
def test_through_faults_and_a_killed_worker_every_user_is_answered_once_and_every_booking_reaches_teams():
    # 20 events a user: enough for a whole booking and, for some, its cancellation.
    size = Size(users=20, events=400, graph_down_seconds=15, kills=2, concurrency=20,
                answer_timeout=300, run_timeout=1200, drain_timeout=900)  # bounds, generous for a loaded machine
    shortfalls = run(size)
    assert shortfalls == [], "\n".join(shortfalls)


# -- a cancellation racing a Graph answer that never came ----------------------------------------

@pytest.fixture
def microsoft() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft.running() as fakes:
        yield fakes


@pytest.fixture
def desk(config, clock, microsoft) -> Iterator[Services]:
    services = Services.create(config.but(graph=GraphSettings(
        tenant_id=microsoft.entra.tenant, client_id=microsoft.entra.client_id,
        client_secret=microsoft.entra.client_secret, organizer=microsoft.organizer,
        authority=microsoft.entra.authority, base_url=microsoft.graph.base_url, read_timeout=2.0)), clock=clock)
    load_demo_data(services.db)
    yield services
    services.close()


def test_a_booking_cancelled_while_graphs_answer_was_lost_leaves_no_teams_invite_standing(desk, microsoft):
    # Graph makes the event but its answer comes after the worker gave up waiting (as when the
    # worker is killed mid-call); the user cancels before the create is tried again.
    chat = Chat(desk, "U" + "c" * 32, TUESDAY_MORNING)
    microsoft.graph.fail_next("create", ("accept_then_stall", 3))
    play(chat, BOOKED)
    Worker(desk).run_until_idle()
    wait_for(lambda: microsoft.graph.events, timeout=10)
    play(chat, [(tap("予約の確認・キャンセル"),), (tap("キャンセルする"),), (tap("はい"), says("予約をキャンセルしました"))])
    for _ in range(3):
        make_jobs_due(desk.db)
        Worker(desk).run_until_idle()
    assert microsoft.graph.live_events() == []
    with desk.db.transaction() as session:
        assert session.scalar(select(Booking.status)) == "cancelled"


# -- a reply in doubt whose retry LINE throttled ---------------------------------------------------

def test_a_reply_in_doubt_is_not_sent_again_when_its_retry_was_throttled(line, worker, fake_line, services):
    # LINE takes the reply but its answer never reaches the worker (or the worker is killed mid-call);
    # the retry is answered 500; the next retry's token is refused because the first reply used it.
    user = "U" + "d" * 32
    line.post(line.text(user, "メニュー"))
    fake_line.fail_next(REPLY, ("accept_then_stall", 2), 500)
    for _ in range(4):
        worker.run_until_idle()
        make_jobs_due(services.db)
    assert line.received(user) == ["ご用件をお選びください。"]


def test_the_scan_of_the_service_processes_logs_finds_an_address_a_phone_a_typed_name_and_a_secret(tmp_path):
    (tmp_path / "web.log").write_text("INFO bot.line.webhook: stored 3 events\n"
                                      "INFO handlers.database_desk: booking for taro@example.jp\n")
    (tmp_path / "worker-0.log").write_text("WARNING x: 090-1234-5678 山田 太郎\nERROR y: token s3cret-value\n")
    found = scan_logs(tmp_path, ["s3cret-value"])
    assert {f.split(" logged ")[0] for f in found} == {"web.log:2", "worker-0.log:1", "worker-0.log:2"}
    assert any("mobile phone" in f for f in found) and any("typed text '山田 太郎'" in f for f in found)

"""Operator alerts posted to a Teams channel through a Workflows webhook (a fake on loopback, over
HTTPS): one card per alert without personal data, retried through the queue when the webhook fails,
never a card about a card that could not be posted, and nothing at all without the setting."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.queue.worker import Worker
from bot.services import Services
from bot.teams import channel_alerts
from bot.teams.graph_api import GraphSettings
from bot.demo import load_demo_data
from handlers import chats
from handlers.alerts import CHANNEL_JOB, CHAT_WAITING, HANDOFF_FAILED, JOB_DEAD, raise_alert
from models import Booking, Job, OperatorAlert
from models import Chat as ChatRow
from tests.conftest import make_jobs_due
from tests.support.chat import TUESDAY_MORNING, Chat, play
from tests.support.chat_desk import on_duty, operator
from tests.support.fake_microsoft import FakeMicrosoft, trusting
from tests.support.fake_teams_workflow import FakeTeamsWorkflow
from tests.support.scripts import AGREED, BOOKED

USER = "U" + "b" * 32
CONSOLE = "http://desk.test/console"


@pytest.fixture
def workflow():
    fake = FakeTeamsWorkflow()
    try:
        with trusting(fake.ca_path):
            yield fake
    finally:
        fake.close()


@pytest.fixture
def alerting_config(config, workflow) -> Config:
    return config.but(teams_alert_webhook_url=workflow.url, public_base_url="http://desk.test")


@pytest.fixture
def desk(alerting_config, clock):
    services = Services.create(alerting_config, clock=clock)
    yield services
    services.close()


def run(services) -> None:
    Worker(services).run_until_idle()


def alert(services, kind: str = HANDOFF_FAILED, message: str = "Teams handoff failed for booking TEST0001") -> None:
    with services.db.transaction() as session:
        raise_alert(session, services.config, kind, message)


def channel_jobs(services) -> list[Job]:
    with services.db.transaction() as session:
        return list(session.scalars(select(Job).where(Job.kind == CHANNEL_JOB).order_by(Job.id)))


def card_texts(card: dict) -> list[str]:
    return [block["text"] for block in card["body"]]


def test_a_failed_teams_handoff_posts_one_card_without_personal_data(alerting_config, clock, workflow):
    with FakeMicrosoft.running() as microsoft:
        microsoft.graph.fail_next("create", 403)
        services = Services.create(alerting_config.but(graph=GraphSettings(
            tenant_id=microsoft.entra.tenant, client_id=microsoft.entra.client_id,
            client_secret=microsoft.entra.client_secret, organizer=microsoft.organizer,
            authority=microsoft.entra.authority, base_url=microsoft.graph.base_url, read_timeout=2.0)), clock=clock)
        try:
            load_demo_data(services.db)
            play(Chat(services, USER, TUESDAY_MORNING), BOOKED)
            run(services)
            with services.db.transaction() as session:
                booking = session.scalar(select(Booking))
                reference = booking.reference
                assert booking.teams_status == "failed"
        finally:
            services.close()

    [call] = workflow.calls
    assert call.status == 202 and call.headers["Content-Type"] == "application/json"
    [card] = workflow.cards
    assert "Teams会議の作成に失敗しました" in card_texts(card)
    assert "未対応のアラート（この種類）：1件" in card_texts(card)
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "コンソールを開く", "url": CONSOLE}]
    sent = json.loads(call.raw)
    assert sent["type"] == "message" and sent["attachments"][0]["contentUrl"] is None
    assert sent["attachments"][0]["content"]["version"] == "1.4"
    text = json.dumps(sent, ensure_ascii=False)
    for personal in (USER, reference, "山田", "太郎", "ヤマダ", "タロウ", "Taro", "090", "1234-5678", "転職",
                     "残業", "Calendars.ReadWrite", "aoki"):
        assert personal.lower() not in text.lower(), personal


def test_a_card_answered_500_is_retried_and_posted_once(desk, workflow):
    workflow.fail_next(500)
    alert(desk)
    run(desk)
    [job] = channel_jobs(desk)
    assert (job.status, job.attempts, workflow.cards) == ("pending", 1, [])
    make_jobs_due(desk.db)
    run(desk)
    assert [c.status for c in workflow.calls] == [500, 202]
    assert len(workflow.cards) == 1 and channel_jobs(desk)[0].status == "done"


def test_a_throttled_card_waits_for_retry_after(desk, workflow, clock):
    workflow.fail_next(429)
    alert(desk)
    run(desk)
    [job] = channel_jobs(desk)
    assert job.status == "pending" and "429" in job.last_error
    assert (job.run_at - clock()).total_seconds() == pytest.approx(1.0)


def test_without_a_webhook_url_an_alert_queues_no_job(services, workflow):
    assert services.config.teams_alert_webhook_url == ""
    alert(services)
    run(services)
    assert channel_jobs(services) == [] and workflow.calls == []
    with services.db.transaction() as session:
        assert len(list(session.scalars(select(OperatorAlert)))) == 1


def test_alerts_raised_before_the_card_is_posted_share_one_card_that_counts_them(desk, workflow):
    alert(desk, message="Teams handoff failed for booking TEST0001")
    alert(desk, message="Teams handoff failed for booking TEST0002")
    alert(desk, kind=JOB_DEAD, message="Background job #7 (teams_create) gave up")
    run(desk)
    assert len(channel_jobs(desk)) == 2
    texts = sorted(card_texts(card)[1:3] for card in workflow.cards)
    assert texts == [["Teams会議の作成に失敗しました", "未対応のアラート（この種類）：2件"],
                     ["バックグラウンド処理が停止しました", "未対応のアラート（この種類）：1件"]]


def test_a_refused_card_kills_its_job_and_the_dead_job_is_shown_in_the_console_only(desk, workflow):
    workflow.fail_next(400)
    alert(desk)
    for _ in range(3):
        run(desk)
        make_jobs_due(desk.db)
    assert [c.status for c in workflow.calls] == [400]
    [job] = channel_jobs(desk)
    assert job.status == "dead" and "400" in job.last_error
    with desk.db.transaction() as session:
        dead = session.scalar(select(OperatorAlert).where(OperatorAlert.kind == JOB_DEAD))
        assert dead is not None and CHANNEL_JOB in dead.message


def test_an_alert_resolved_before_its_card_is_posted_posts_nothing(desk, workflow):
    alert(desk)
    with desk.db.transaction() as session:
        session.scalar(select(OperatorAlert)).resolved_at = desk.clock()
    run(desk)
    assert workflow.calls == [] and channel_jobs(desk)[0].status == "done"


def test_an_unreachable_webhook_is_retried_and_its_secret_url_is_neither_logged_nor_stored(
        desk, workflow, _nothing_personal_is_logged):
    closed = workflow.url.replace(f":{workflow.port}/", ":9/")  # nothing listens on port 9
    services = Services.create(desk.config.but(teams_alert_webhook_url=closed), clock=desk.clock)
    try:
        alert(services)
        run(services)
        [job] = channel_jobs(services)
    finally:
        services.close()
    assert job.status == "pending" and "ConnectionError" in job.last_error
    assert workflow.signature not in job.last_error
    assert not [line for line in _nothing_personal_is_logged.lines if workflow.signature in line]


def test_a_stalled_webhook_times_out_into_a_retry(workflow):
    workflow.fail_next(("stall", 2.0))
    card = channel_alerts.AlertCard("テスト", 1, CONSOLE, "テスト窓口")
    result = channel_alerts.post_card(workflow.url, card, read_timeout=0.3)
    assert result.outcome is channel_alerts.Outcome.RETRY and "Timeout" in result.detail


def test_the_webhook_url_must_be_https(tmp_path):
    env = {"INSTANCE_PATH": str(tmp_path)}
    assert Config.from_env(env).teams_alert_webhook_url == ""
    url = "https://example.test/workflows/x/triggers/manual/paths/invoke?sig=s"
    assert Config.from_env({**env, "TEAMS_ALERT_WEBHOOK_URL": url}).teams_alert_webhook_url == url
    with pytest.raises(RuntimeError, match="TEAMS_ALERT_WEBHOOK_URL"):
        Config.from_env({**env, "TEAMS_ALERT_WEBHOOK_URL": url.replace("https:", "http:")})


def test_a_user_waiting_for_a_chat_posts_a_card_and_taking_the_chat_resolves_the_alert(desk, workflow):
    load_demo_data(desk.db)
    operator_id = on_duty(desk)
    user = Chat(desk, USER, at=datetime(2026, 12, 1, 11, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
    play(user, AGREED)
    user.send("人と話したい")
    run(desk)
    [card] = workflow.cards
    assert "新しいチャット相談の待ちがあります" in card_texts(card)
    assert USER not in json.dumps(workflow.calls[0].raw, ensure_ascii=False)
    with desk.db.transaction() as session:
        chat_id = session.scalar(select(ChatRow.id))
        chats.take(desk, session, chat_id, operator(session, operator_id))
    with desk.db.transaction() as session:
        [row] = session.scalars(select(OperatorAlert).where(OperatorAlert.kind == CHAT_WAITING)).all()
        assert row.resolved_at is not None

"""The desk's own name (DESK_NAME) in everything users, counsellors and operators read: the greeting,
the Teams invite, the console and the simulator."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot import create_app
from bot.config import Config
from bot.services import Services
from bot.queue.worker import Worker
from tests.support.chat import TUESDAY_MORNING, Chat, play
from tests.support.fake_microsoft import FakeMicrosoft
from tests.support.scripts import BOOKED

NAME = "ひまわり若者相談室"
USER = "U" + "d" * 32


def named(tmp_path, **env: str) -> Config:
    return Config.from_env({"INSTANCE_PATH": str(tmp_path / "named"), "DESK_NAME": NAME, **env})


@pytest.fixture
def config(config, tmp_path):
    """The suite's real-channel settings, with the desk named through DESK_NAME."""
    return config.but(desk=replace(config.desk, desk_name=named(tmp_path).desk.desk_name))


def test_the_greeting_on_follow_names_the_desk(line, worker, fake_line):
    line.post(line.follow(USER))
    worker.run_until_idle()
    [greeting, *_] = fake_line.store.messages_to(USER)
    assert f"{NAME}は、働く若い方（15歳〜39歳）の" in greeting.message["text"]
    assert "みらいキャリアポート" not in greeting.message["text"]


def test_the_console_title_and_header_name_the_desk(client):
    page = client.get("/console/login").get_data(as_text=True)
    assert f"<title>サインイン｜{NAME}</title>" in page
    assert f'<span class="desk-name">{NAME}</span>' in page
    assert "みらいキャリアポート" not in page


def test_the_teams_invite_subject_names_the_desk(config, clock):
    from bot.demo import load_demo_data
    from bot.teams.graph_api import GraphSettings

    with FakeMicrosoft.running() as microsoft:
        services = Services.create(config.but(graph=GraphSettings(
            tenant_id=microsoft.entra.tenant, client_id=microsoft.entra.client_id,
            client_secret=microsoft.entra.client_secret, organizer=microsoft.organizer,
            authority=microsoft.entra.authority, base_url=microsoft.graph.base_url, read_timeout=2.0)), clock=clock)
        try:
            load_demo_data(services.db)
            play(Chat(services, USER, TUESDAY_MORNING), BOOKED)
            Worker(services).run_until_idle()
            [event] = microsoft.graph.live_events()
        finally:
            services.close()
    assert event["subject"].startswith(f"【{NAME}】オンライン相談")
    assert NAME in event["body"]["content"]


def test_the_simulator_shows_the_desk_as_the_account_name(database_url, tmp_path):
    app = create_app(named(tmp_path, DATABASE_URL=database_url))
    try:
        page = app.test_client().get("/simulator/").get_data(as_text=True)
    finally:
        app.extensions["services"].close()
    assert f"<title>LINEシミュレーター｜{NAME}</title>" in page
    assert f'<h1 class="phone-account">{NAME}（シミュレーター）</h1>' in page

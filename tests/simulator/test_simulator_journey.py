"""The whole journey in the simulator page: a new friend agrees, books, gets the Teams link, cancels.

The real app and worker serve the page; Teams goes through the fake Entra ID and Graph with the
real msal, so one booking must make exactly one Graph event with the counsellor invited, and one
LINE message with its join link, and the cancellation must reach Graph.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest

from bot.demo import load_demo_data
from bot.teams.graph_api import GraphSettings
from tests.support.fake_microsoft import FakeMicrosoft
from tests.support.live_server import LiveServer, live_server
from tests.support.processes import wait_for

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser


@pytest.fixture
def microsoft() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft.running() as fakes:
        yield fakes


@pytest.fixture
def live(database_url, tmp_path, microsoft) -> Iterator[LiveServer]:
    graph = GraphSettings(tenant_id=microsoft.entra.tenant, client_id=microsoft.entra.client_id,
                          client_secret=microsoft.entra.client_secret, organizer=microsoft.organizer,
                          authority=microsoft.entra.authority, base_url=microsoft.graph.base_url)
    with live_server(database_url, tmp_path / "instance", graph=graph) as server:
        load_demo_data(server.app.extensions["db"])
        yield server


@pytest.fixture
def page(browser, live) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{live.url}/simulator/")
    yield page
    context.close()


def tap(page, name: str | re.Pattern) -> None:
    page.get_by_role("button", name=name, exact=isinstance(name, str)).last.click()


def say(page, text: str) -> None:
    box = page.locator("#message-input")
    box.fill(text)
    box.press("Enter")


def bot_says(page, text: str) -> None:
    expect(page.locator("#chat-list .msg.bot").filter(has_text=text).last).to_be_visible()


def test_a_new_friend_books_gets_the_teams_link_and_cancels_without_a_dead_end(page, live, microsoft):
    tap(page, "友だち追加")
    bot_says(page, "友だち追加ありがとうございます")
    tap(page, "同意する")
    bot_says(page, "ご同意いただき")
    tap(page, "相談を予約する")
    tap(page, "キャリア・転職")
    bot_says(page, "年齢")
    say(page, "25")
    bot_says(page, "ご希望の日")
    tap(page, re.compile(r"^\d{1,2}\/\d{1,2}\(.\)$"))  # the slash escaped for Playwright
    bot_says(page, "の空き時間")
    page.get_by_role("button", name=re.compile(r"^1\d:\d\d$")).first.click()
    bot_says(page, "仮予約しました")
    for answer, next_question in [("山田 太郎", "フリガナ"), ("やまだ たろう", "メールアドレス"),
                                  ("taro@example.jp", "電話番号"), ("09012345678", "ご相談内容"),
                                  ("転職の相談です", "ご一緒に参加される方"), ("なし", "ご予約内容の確認")]:
        say(page, answer)
        bot_says(page, next_question)
    tap(page, "確定")
    bot_says(page, "ご予約が確定しました")

    bot_says(page, "ご相談の参加用リンクをお送りします")
    wait_for(lambda: microsoft.graph.live_events(), timeout=10)
    [event] = microsoft.graph.live_events()
    [attendee] = event["attendees"]  # the counsellor, invited; the user's e-mail only when enabled
    assert attendee["type"] == "required"
    assert attendee["emailAddress"]["address"] in ("aoki.satomi@desk.example.jp", "ishii.kenta@desk.example.jp")
    join = page.get_by_role("link", name="Teamsで参加する").or_(page.get_by_role("button", name="Teamsで参加する"))
    expect(join.last).to_be_visible()
    links = [e for e in live.chat(page.locator("#persona").input_value())
             if e["sender"] == "bot" and "参加用リンクをお送りします" in str(e["payload"])]
    assert len(links) == 1 and event["onlineMeeting"]["joinUrl"] in str(links[0]["payload"])

    tap(page, "予約の確認・キャンセル")
    tap(page, "キャンセルする")
    tap(page, "はい")
    bot_says(page, "キャンセルしました")
    wait_for(lambda: not microsoft.graph.live_events(), timeout=10)
    assert len(microsoft.graph.events) == 1

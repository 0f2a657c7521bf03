"""チャット相談 end to end in a headless Chromium against the real app and worker: an operator marks
themselves available, a person asks for a person in the LINE simulator, the waiting chat appears in
the console without a reload, the operator takes it and replies, the person writes back and it
appears in the console without a reload, and the operator ends the chat: the simulator shows the
end and the rating buttons.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterator

import pytest

from bot.demo import DEMO_PASSWORD
from conversations.chat_hours import ChatSettings
from conversations.desk import DeskSettings
from tests.support.live_server import LiveServer, live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

WAIT_MS = 8000  # the console polls every 3 s
expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def live(database_url, tmp_path) -> Iterator[LiveServer]:
    """The live server with chat open around the clock (CHAT_HOURS=always): its clock starts at
    9:00, before the default chat hours."""
    desk = replace(DeskSettings(), chat=ChatSettings(always=True))
    with live_server(database_url, tmp_path / "instance", desk=desk) as server:
        yield server


def bot_says(simulator, text: str):
    return expect(simulator.locator("#chat-list .msg.bot .msg-body", has_text=text).last)


def write(simulator, text: str) -> None:
    box = simulator.get_by_label("メッセージ", exact=True)
    box.fill(text)
    box.press("Enter")
    expect(simulator.locator("#chat-list .msg.user .bubble").last).to_have_text(text)


def test_an_operator_takes_a_chat_answers_reads_the_reply_live_and_ends_it(console_page, simulator_page, live):
    console, simulator = console_page, simulator_page
    console.goto(f"{live.url}/console/login")
    console.get_by_label("メールアドレス").fill("admin@desk.example.jp")
    console.get_by_label("パスワード").fill(DEMO_PASSWORD)
    console.get_by_role("button", name="パスワードでサインイン").click()
    console.get_by_role("navigation").get_by_role("link", name="チャット相談").click()
    console.get_by_role("button", name="対応可能にする").click()
    expect(console.locator("#availability-state")).to_have_text("対応可能")
    expect(console).to_have_title(re.compile(r"^チャット相談｜"))

    # The person asks for a person; a new user agrees to the policy first.
    expect(simulator.locator("#persona option")).not_to_have_count(0)
    write(simulator, "チャット相談")
    simulator.get_by_role("button", name="同意する", exact=True).last.click()
    bot_says(simulator, "順番待ちに登録しました").to_be_visible()

    # The waiting chat shows in the open console page without a reload, and in its title.
    waiting = console.locator("#waiting-rows tr[data-id]")
    expect(waiting).to_have_count(1)
    expect(console).to_have_title(re.compile(r"^\(1\) チャット相談｜"))
    waiting.get_by_role("button", name="引き受ける").click()
    expect(console.get_by_label("返信")).to_be_visible()
    bot_says(simulator, "相談員につながりました").to_be_visible()

    console.get_by_label("返信").fill("お話を伺います。どうされましたか？")
    expect(console.locator("#reply-count")).to_have_text("17 / 5,000文字")
    console.get_by_role("button", name="送信", exact=True).click()
    bot_says(simulator, "お話を伺います。どうされましたか？").to_be_visible()
    expect(console.locator(".chat .out", has_text="お話を伺います。").locator(".sender")).to_have_text("送信：窓口 管理者")

    write(simulator, "残業代が出ません")
    expect(console.locator(".chat .in .bubble", has_text="残業代が出ません")).to_have_text("残業代が出ません")

    console.get_by_label("区分").select_option(label="解決")
    console.get_by_role("button", name="終了", exact=True).click()
    expect(console.locator(".notice-info")).to_contain_text("チャットを終了しました（解決）")
    bot_says(simulator, "チャット相談を終了しました").to_be_visible()
    for label in ("5", "1", "回答しない"):
        expect(simulator.locator("#quick-replies .chip", has_text=label).first).to_be_visible()

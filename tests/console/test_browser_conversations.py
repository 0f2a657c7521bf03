"""The conversations and users pages in a headless Chromium against the real app and worker: a
person types markup into the LINE simulator, an operator reads it in the console as plain text (no
script runs), sees the next message arrive live, and erases the person through the confirmation step.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from sqlalchemy import select

from bot.demo import DEMO_PASSWORD
from models import LineUser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

WAIT_MS = 8000  # the console polls every 3 s
PAYLOAD = "<img src=x onerror=\"alert('img')\"><script>alert('script')</script>"
FOLLOW_UP = "<b>追伸</b>です"

expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def context(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP", timezone_id="Asia/Tokyo")
    yield context
    context.close()


def open_page(context, url: str) -> tuple[Any, list[str], list[str]]:
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page, dialogs, errors


def type_in_simulator(page, text: str) -> None:
    replies = page.locator("#chat-list .msg.bot .msg-body").count()
    box = page.get_by_label("メッセージ", exact=True)
    box.fill(text)
    box.press("Enter")
    expect(page.locator("#chat-list .msg.user .bubble").last).to_have_text(text)
    expect(page.locator("#chat-list .msg.bot .msg-body")).not_to_have_count(replies)


def test_an_operator_reads_typed_markup_as_text_sees_new_messages_live_and_erases_the_user(context, live):
    simulator, _, _ = open_page(context, f"{live.url}/simulator/")
    expect(simulator.locator("#persona option")).not_to_have_count(0)
    person = simulator.locator("#persona").input_value()
    type_in_simulator(simulator, PAYLOAD)
    with live.app.extensions["db"].transaction() as session:
        user_id = session.scalar(select(LineUser.id).where(LineUser.line_user_id == person))

    console, dialogs, errors = open_page(context, f"{live.url}/console/login")
    console.get_by_label("メールアドレス").fill("admin@desk.example.jp")
    console.get_by_label("パスワード").fill(DEMO_PASSWORD)
    console.get_by_role("button", name="パスワードでサインイン").click()
    console.get_by_role("navigation").get_by_role("link", name="会話").click()
    console.get_by_role("link", name=f"LINE利用者 #{user_id}").click()

    said = console.locator(".chat .in .bubble").last
    expect(said).to_have_text(PAYLOAD)
    assert said.evaluate("node => node.textContent") == PAYLOAD
    assert console.locator(".chat img, .chat script").count() == 0
    expect(console.locator(".chat .out .bubble").first).to_be_visible()

    # The person writes again; the open page shows it without a reload, still as text.
    type_in_simulator(simulator, FOLLOW_UP)
    expect(console.locator(".chat .in .bubble", has_text="追伸")).to_have_text(FOLLOW_UP)
    assert console.locator(".chat b").count() == 0
    assert dialogs == [], f"a dialog opened: {dialogs}"

    console.get_by_role("link", name="利用者の詳細").click()
    console.get_by_role("link", name="消去の確認へ進む").click()
    expect(console.get_by_role("heading", name="消去されるもの")).to_be_visible()
    console.get_by_label(f"確認のため、利用者番号「{user_id}」を入力してください").fill(str(user_id))
    console.get_by_role("button", name="個人情報を消去する").click()
    expect(console.locator(".notice")).to_have_text("個人情報を消去しました。")
    expect(console.locator(".user-badges")).to_contain_text("消去済み")

    console.get_by_role("link", name="会話を見る").click()
    expect(console.locator(".chat .in .bubble").first).to_have_text("（消去済み）")
    assert "追伸" not in console.content() and "alert(" not in console.content()
    assert dialogs == [] and errors == []

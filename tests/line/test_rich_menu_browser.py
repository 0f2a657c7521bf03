"""The rich menu on the simulator page, tapped by a person in a headless Chromium (see
tests/simulator/test_simulator_browser.py for the set-up)."""

from __future__ import annotations

from typing import Any

import pytest

from conversations.texts import MENU_ITEMS

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/simulator-rich-menu.png"


@pytest.fixture
def page(simulator_page) -> Any:
    return simulator_page


def rich_menu(page):
    return page.locator("#rich-menu")


def bot_says(page, text: str) -> None:
    expect(page.locator("#chat-list .msg.bot").filter(has_text=text).last).to_be_visible()


def test_tapping_the_booking_tile_of_the_rich_menu_starts_a_booking(page, live):
    page.get_by_role("button", name="友だち追加", exact=True).click()
    bot_says(page, "友だち追加ありがとうございます")
    page.get_by_role("button", name="同意する", exact=True).last.click()
    bot_says(page, "ご同意いただき")

    rich_menu(page).get_by_role("button", name="相談を予約する", exact=True).click()

    expect(page.locator("#chat-list .msg.user .bubble").last).to_have_text("相談を予約する")
    bot_says(page, "ご相談のテーマをお選びください")
    user_id = page.locator("#persona").input_value()
    tapped = [e["payload"] for e in live.chat(user_id) if e["sender"] == "user"][-1]
    assert (tapped["type"], tapped["data"], tapped["display_text"]) == ("postback", "menu:book", "相談を予約する")
    page.screenshot(path=SCREENSHOT)


def test_the_rich_menu_shows_its_image_and_its_chat_bar_text_closes_and_opens_it(page):
    bar = rich_menu(page).get_by_role("button", name="メニュー", exact=True)
    tiles = rich_menu(page).locator(".rich-menu-area")
    expect(tiles).to_have_count(len(MENU_ITEMS))
    expect(rich_menu(page).get_by_role("button", name="チャット相談")).to_be_visible()
    expect(rich_menu(page).locator("img")).to_have_js_property("complete", True)
    assert rich_menu(page).locator("img").evaluate("img => img.naturalWidth") == 2500
    expect(bar).to_have_attribute("aria-expanded", "true")

    bar.click()
    expect(tiles.first).to_be_hidden()
    expect(bar).to_have_attribute("aria-expanded", "false")

    bar.click()
    expect(rich_menu(page).get_by_role("button", name="よくある質問・お問い合わせ")).to_be_visible()

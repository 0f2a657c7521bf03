"""The simulator page as a person uses it, in a headless Chromium against the real app and worker.

Playwright drives Debian's chromium (`scripts/install-test-deps` installs it); Playwright's own
browser download is not used.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest

from conversations import messages as m
from tests.support.live_server import LiveServer

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

WAIT_MS = 5000  # the page polls every 700 ms; a turn takes well under a second
SCREENSHOT = "/tmp/simulator.png"
GREETING = "友だち追加ありがとうございます"

expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def page(simulator_page) -> Any:
    return simulator_page


def chat(page):
    return page.locator("#chat-list")


def user_bubbles(page):
    return page.locator("#chat-list .msg.user .bubble")


def bot_bubbles(page):
    return page.locator("#chat-list .msg.bot .msg-body")


def selected_user(page) -> str:
    expect(page.locator("#persona option")).not_to_have_count(0)
    return page.locator("#persona").input_value()


def follow(page) -> None:
    page.get_by_role("button", name="友だち追加", exact=True).click()
    expect(bot_bubbles(page).first).to_contain_text(GREETING)


def wait_until(check: Callable[[], Any], timeout: float = WAIT_MS / 1000) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "timed out waiting"
            return result
        time.sleep(0.05)


def user_entries(live: LiveServer, user_id: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in live.chat(user_id) if e["sender"] == "user"]


def test_a_person_opens_the_simulator_taps_follow_and_sees_the_greeting(page, live):
    expect(page.locator(".phone-account")).to_have_text("みらいキャリアポート（シミュレーター）")
    first = live.personas[0]
    expect(page.locator("#persona")).to_have_value(first["user_id"])

    follow(page)

    expect(page.locator("#chat-list .system-text").first).to_have_text("友だち追加しました")
    expect(page.locator("#chat-list .msg.bot .via").first).to_have_text("reply")
    page.screenshot(path=SCREENSHOT)


def test_typing_a_message_and_pressing_enter_shows_it_and_then_the_bots_reply(page, live):
    follow(page)
    replies = bot_bubbles(page).count()

    box = page.get_by_label("メッセージ", exact=True)
    box.fill("よくある質問")
    # Enter that confirms a Japanese IME conversion does not send.
    box.dispatch_event("keydown", {"key": "Enter", "code": "Enter", "isComposing": True})
    expect(box).to_have_value("よくある質問")
    box.press("Enter")

    expect(user_bubbles(page).last).to_have_text("よくある質問")
    expect(box).to_have_value("")
    expect(bot_bubbles(page)).not_to_have_count(replies)
    expect(bot_bubbles(page).last).to_contain_text("よくある質問")
    said = [p for p in user_entries(live, selected_user(page)) if p["type"] == "message"]
    assert said == [{"type": "message", "text": "よくある質問"}]
    expect(user_bubbles(page)).to_have_count(1)


def test_markup_typed_by_a_person_is_shown_as_literal_text(page, live):
    typed = "<script>window.__pwned=1</script><b>x</b>"
    box = page.get_by_label("メッセージ", exact=True)
    box.fill(typed)
    box.press("Enter")

    bubble = user_bubbles(page).last
    expect(bubble).to_have_text(typed)
    assert bubble.evaluate("node => node.textContent") == typed
    assert page.locator("#chat b, #chat script").count() == 0
    assert page.evaluate("() => typeof window.__pwned") == "undefined"


def test_switching_persona_shows_a_separate_empty_chat(page, live):
    first, second = live.personas[0], live.personas[1]
    follow(page)

    page.locator("#persona").select_option(second["user_id"])

    expect(page.locator("#chat-empty")).to_be_visible()
    expect(page.locator("#chat-list > *")).to_have_count(0)
    assert live.chat(second["user_id"]) == []
    # The choice is remembered, and the first chat is still there when switching back.
    page.reload()
    expect(page.locator("#persona")).to_have_value(second["user_id"])
    page.locator("#persona").select_option(first["user_id"])
    expect(bot_bubbles(page).first).to_contain_text(GREETING)


def test_a_quick_reply_chip_sends_its_text_and_the_chips_go_away(page, live):
    user_id = selected_user(page)
    live.store.deliver(user_id, "push", [m.text("どちらにしますか？", [
        m.message_action("はい、お願いします"), m.postback_action("いいえ", "test:no", "いいえ、結構です")])])
    chips = page.locator("#quick-replies .chip")
    expect(chips).to_have_text(["はい、お願いします", "いいえ"])
    expect(page.locator("#chat-list .msg.bot .via").last).to_have_text("push")

    chips.first.click()

    expect(user_bubbles(page).last).to_have_text("はい、お願いします")
    expect(page.locator("#quick-replies")).to_be_hidden()
    assert user_entries(live, user_id)[-1] == {"type": "message", "text": "はい、お願いします"}


def test_a_postback_chip_shows_its_display_text_and_sends_its_data(page, live):
    user_id = selected_user(page)
    live.store.deliver(user_id, "push", [m.text("どちらにしますか？", [
        m.message_action("はい"), m.postback_action("いいえ", "test:no", "いいえ、結構です")])])

    page.locator("#quick-replies .chip", has_text="いいえ").click()

    expect(user_bubbles(page).last).to_have_text("いいえ、結構です")
    assert user_entries(live, user_id)[-1] == {"type": "postback", "data": "test:no", "params": {},
                                              "display_text": "いいえ、結構です"}


def test_a_buttons_template_button_sends_its_postback(page, live):
    user_id = selected_user(page)
    live.store.deliver(user_id, "push", [m.buttons("ご用件", "ご用件をお選びください。", [
        m.postback_action("相談を予約する", "menu:book", "相談を予約する"),
        m.message_action("よくある質問"),
        m.uri_action("ホームページ", "https://example.org/"),
    ], title="メニュー")])
    card = page.locator("#chat-list .tpl-card")
    expect(card.locator(".tpl-title")).to_have_text("メニュー")
    expect(card.locator(".tpl-action")).to_have_text(["相談を予約する", "よくある質問", "ホームページ"])

    card.get_by_role("button", name="相談を予約する").click()

    expect(user_bubbles(page).last).to_have_text("相談を予約する")
    wait_until(lambda: any(p.get("data") == "menu:book" for p in user_entries(live, user_id)))


def test_a_datetime_picker_chip_sends_the_chosen_date_as_postback_params(page, live):
    user_id = selected_user(page)
    live.store.deliver(user_id, "push", [m.text("ご希望の日をお選びください。", [
        m.datetime_picker("カレンダーから選ぶ", "test:date", "date",
                          initial="2026-12-01", min="2026-12-01", max="2026-12-20"),
        m.message_action("戻る")])])

    page.locator("#quick-replies .chip", has_text="カレンダーから選ぶ").click()
    picker = page.locator("#picker input")
    expect(picker).to_have_attribute("type", "date")
    expect(picker).to_have_value("2026-12-01")
    expect(picker).to_have_attribute("max", "2026-12-20")
    picker.fill("2026-12-03")
    page.get_by_role("button", name="決定").click()

    expect(page.locator("#picker")).to_have_count(0)
    expect(page.locator("#chat-list .system-text").last).to_have_text("日付を選択しました：2026-12-03")
    assert user_entries(live, user_id)[-1] == {"type": "postback", "data": "test:date",
                                              "params": {"date": "2026-12-03"}, "display_text": None}


def test_a_flex_bubble_renders_its_parts_and_its_buttons_work(page, live):
    user_id = selected_user(page)
    live.store.deliver(user_id, "push", [m.flex("ご予約内容の確認", {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": "ご予約内容の確認", "weight": "bold"}]},
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
            {"type": "box", "layout": "baseline", "contents": [
                {"type": "text", "text": "日時", "size": "sm", "color": "#888888", "flex": 3},
                {"type": "text", "text": "12月3日(木) 10:00", "size": "sm", "wrap": True, "flex": 7}]},
            {"type": "separator"},
            {"type": "a-component-from-the-future", "text": "見えない"},
        ]},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
            {"type": "button", "style": "primary", "action": m.postback_action("確定", "test:confirm", "確定する")},
            {"type": "button", "style": "link", "action": m.message_action("やめる")},
        ]},
    })])
    card = page.locator("#chat-list .fx-bubble")
    expect(card).to_contain_text("ご予約内容の確認")
    expect(card).to_contain_text("12月3日(木) 10:00")
    expect(card).not_to_contain_text("見えない")
    expect(card.locator(".fx-separator")).to_have_count(1)
    expect(card.locator(".fx-button-primary")).to_have_text("確定")

    card.get_by_role("button", name="確定").click()

    expect(user_bubbles(page).last).to_have_text("確定する")
    wait_until(lambda: any(p.get("data") == "test:confirm" for p in user_entries(live, user_id)))


def test_adding_a_user_asks_for_a_name_and_opens_their_empty_chat(page, live):
    page.once("dialog", lambda dialog: dialog.accept("山田 たろう"))

    page.get_by_role("button", name="ユーザーを追加").click()

    expect(page.locator("#persona option:checked")).to_have_text("山田 たろう")
    added = next(p for p in live.personas if p["display_name"] == "山田 たろう")
    expect(page.locator("#persona")).to_have_value(added["user_id"])
    expect(page.locator("#chat-empty")).to_be_visible()
    follow(page)


def test_a_slow_first_load_of_the_user_list_does_not_undo_a_user_just_added(browser, live):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="ja-JP", timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        held = []

        def hold_the_first_list(route):
            if route.request.method == "GET" and not held:
                # The list as it is now, delivered only after the user has been added.
                held.append((route, route.fetch()))
            else:
                route.continue_()

        page.route("**/personas*", hold_the_first_list)
        page.goto(f"{live.url}/simulator/")
        for _ in range(100):  # Playwright runs route handlers only while one of its calls waits
            if held:
                break
            page.wait_for_timeout(50)
        assert held, "the page never asked for the user list"
        page.once("dialog", lambda dialog: dialog.accept("遅い 読み込み"))
        page.get_by_role("button", name="ユーザーを追加").click()
        expect(page.locator("#persona option:checked")).to_have_text("遅い 読み込み")

        route, stale = held[0]
        route.fulfill(response=stale)
        page.wait_for_timeout(500)  # let the late answer arrive; it must change nothing
        expect(page.locator("#persona option:checked")).to_have_text("遅い 読み込み")
    finally:
        context.close()


def test_blocking_and_adding_again_sends_an_unblocked_follow(page, live):
    user_id = selected_user(page)
    follow(page)

    page.get_by_role("button", name="ブロック").click()

    expect(page.locator("#chat-list .system-text").last).to_have_text("ブロックしました")
    expect(page.get_by_label("メッセージ", exact=True)).to_be_disabled()
    page.get_by_role("button", name="友だち追加", exact=True).click()
    expect(bot_bubbles(page).filter(has_text="おかえりなさい")).to_have_count(1)
    expect(page.get_by_label("メッセージ", exact=True)).to_be_enabled()
    kinds = [p["type"] for p in user_entries(live, user_id)]
    assert kinds == ["follow", "unfollow", "follow"]


def test_the_loading_animation_shows_until_the_bots_next_message(page, live):
    user_id = selected_user(page)
    live.store.loading(user_id, 20)
    expect(page.locator("#typing")).to_be_visible()
    expect(page.locator("#typing .bubble")).to_have_text("…入力中")

    live.store.deliver(user_id, "reply", [m.text("お待たせしました。")])

    expect(bot_bubbles(page).last).to_have_text("お待たせしました。")
    expect(page.locator("#typing")).to_be_hidden()


def test_a_webhook_the_app_refuses_is_reported_on_the_page(page, live):
    page.route("**/callback", lambda route: route.fulfill(status=500, body="boom"))

    page.get_by_role("button", name="スタンプ").click()

    expect(page.locator("#toast")).to_contain_text("/callback: 500")
    expect(user_bubbles(page).last).to_have_text("[スタンプ]")

"""The bookings pages as an operator uses them, in a headless Chromium against the real app and
worker in simulator mode: sign in with the demo login, open a booking, cancel it with a reason."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.demo import DEMO_PASSWORD, DEMO_PERSONAS
from models import Booking, Counsellor, LineUser
from tests.support.live_server import LiveServer

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

TOKYO = ZoneInfo("Asia/Tokyo")
WAIT_MS = 5000
REFERENCE = "BRWS0001"

expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def page(console_page) -> Any:
    return console_page


def a_booking_next_week(live: LiveServer) -> str:
    """A confirmed booking of the first simulated user, next week on Wednesday at 10:00."""
    today = live.clock().astimezone(TOKYO).date()
    wednesday = today + timedelta(days=7 - today.weekday() + 2)
    starts_at = datetime(wednesday.year, wednesday.month, wednesday.day, 10, 0, tzinfo=TOKYO)
    user_id = DEMO_PERSONAS[0][0]
    with live.app.extensions["db"].transaction() as session:
        user = LineUser(line_user_id=user_id, followed_at=live.clock())
        session.add(user)
        session.flush()
        counsellor = session.scalar(select(Counsellor).order_by(Counsellor.id))
        session.add(Booking(reference=REFERENCE, user_id=user.id, counsellor_id=counsellor.id, topic="キャリア・転職",
                            starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30), status="confirmed",
                            name="佐藤 はるか", furigana="サトウ ハルカ", age=24, email="haruka@example.jp",
                            phone="09011112222", consultation="転職について相談したいです。",
                            confirmed_at=live.clock()))
    return user_id


def test_an_operator_signs_in_opens_a_booking_and_cancels_it_with_a_reason(page, live):
    user_id = a_booking_next_week(live)

    page.goto(f"{live.url}/console/login")
    page.get_by_label("メールアドレス").fill("admin@desk.example.jp")
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="パスワードでサインイン").click()
    expect(page.get_by_role("heading", name="ホーム", exact=True)).to_be_visible()

    page.get_by_role("navigation", name="コンソールのメニュー").get_by_role("link", name="予約").click()
    expect(page.get_by_role("heading", name="予約", exact=True)).to_be_visible()
    page.get_by_role("link", name=REFERENCE).click()
    expect(page.locator("#booking-status")).to_have_text("予約確定")
    expect(page.get_by_text("佐藤 はるか")).to_be_visible()
    expect(page.get_by_text("Teams は未設定です（ローカルの会議で代用しています）")).to_be_visible()

    # The reason is required: the browser itself refuses an empty one.
    page.get_by_role("button", name="この予約をキャンセルする").click()
    expect(page.locator("#booking-status")).to_have_text("予約確定")

    page.get_by_label("窓口の都合").check()  # who asked is required too
    page.get_by_label("キャンセルの理由").fill("相談員の急病のため")
    page.get_by_role("button", name="この予約をキャンセルする").click()
    expect(page.get_by_role("status")).to_contain_text("予約をキャンセルしました")
    expect(page.locator("#booking-status")).to_have_text("キャンセル")
    expect(page.get_by_text("相談員の急病のため")).to_be_visible()
    expect(page.get_by_role("button", name="この予約をキャンセルする")).to_have_count(0)

    # The worker tells the user in the simulator's LINE chat.
    deadline = time.monotonic() + WAIT_MS / 1000
    while not any("窓口の都合によりキャンセル" in str(entry) for entry in live.chat(user_id)):
        assert time.monotonic() < deadline, "the user was not told on LINE"
        time.sleep(0.1)
    with live.app.extensions["db"].transaction() as session:
        booking = session.scalar(select(Booking).where(Booking.reference == REFERENCE))
        assert (booking.status, booking.cancel_reason) == ("cancelled", "相談員の急病のため")

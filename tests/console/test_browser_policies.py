"""The operator writes, previews and publishes a new policy version in a real browser."""

from __future__ import annotations

from typing import Any

import pytest

from bot.console.formatting import date_label
from conversations.schedule import to_tokyo

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

WAIT_MS = 5000
expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def page(console_page) -> Any:
    return console_page


def test_an_admin_writes_previews_and_publishes_a_new_policy_version(page, live):
    page.goto(f"{live.url}/console/login")
    page.get_by_label("メールアドレス").fill("admin@desk.example.jp")
    page.get_by_label("パスワード").fill("demo-password-2026")
    page.get_by_role("button", name="パスワードでサインイン").click()

    page.get_by_role("link", name="利用規約").click()
    expect(page.locator("#policy-versions")).to_contain_text("2026-04-01")
    page.get_by_role("link", name="新しい版を作成する").click()

    later = to_tokyo(live.clock()).date().replace(day=1).replace(year=to_tokyo(live.clock()).year + 1)
    page.get_by_label("版の名前").fill("browser-1")
    page.get_by_label("施行日").fill(later.isoformat())
    page.get_by_label("表題").fill("利用規約（ブラウザ改定版）")
    page.get_by_label("要約（LINEの同意カードに表示）").fill("ブラウザで書いた要約です。")
    page.get_by_label("本文（Markdown）").fill("## 第1条（目的）\nブラウザで書いた本文です。\n\n<b>太字ではありません</b>")

    page.get_by_role("button", name="プレビューする").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("プレビュー（まだ公開されていません）")
    expect(preview.locator("article h2")).to_have_text("第1条（目的）")
    expect(preview).to_contain_text("<b>太字ではありません</b>")
    assert preview.locator("article b").count() == 0
    expect(page.get_by_label("版の名前")).to_have_value("browser-1")

    page.get_by_role("button", name="公開する").click()
    expect(page.locator(".notice-info")).to_contain_text("利用規約「browser-1」を公開しました")
    expect(page.locator("h1")).to_have_text("利用規約（ブラウザ改定版）")

    page.get_by_role("link", name="← 利用規約の一覧").click()
    row = page.locator("#policy-versions tr", has_text="browser-1")
    expect(row).to_contain_text("施行予定")
    expect(row).to_contain_text("コンソール")
    expect(row).to_contain_text("窓口 管理者")
    expect(row).to_contain_text(date_label(later))

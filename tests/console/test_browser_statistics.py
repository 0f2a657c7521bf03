"""The statistics page in a real browser: the demo viewer signs in, sees the charts (inline SVG,
allowed by the console's strict CSP) and downloads the CSV export."""

from __future__ import annotations

from typing import Any

import pytest

from bot.demo import DEMO_PASSWORD
from tests.support.console import VIEWER_EMAIL

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

WAIT_MS = 5000


@pytest.fixture
def page(console_page) -> Any:
    return console_page


def test_the_demo_viewer_sees_a_chart_and_downloads_the_csv(page, live, tmp_path):
    page.goto(f"{live.url}/console/statistics")
    page.get_by_label("メールアドレス").fill(VIEWER_EMAIL)
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="パスワードでサインイン").click()

    expect(page.get_by_role("heading", name="統計", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="統計")).to_have_attribute("aria-current", "page")
    chart = page.get_by_role("img", name="週ごとの予約確定（テーマ別）")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["width"] > 200  # the stylesheet applied: the SVG fills its card
    expect(page.get_by_role("img", name="予約の各段階に進んだ人数")).to_be_visible()
    expect(page.locator("#weekly-table tbody tr")).to_have_count(13)
    expect(page.locator("#funnel-table tbody tr").last).to_contain_text("予約確定")
    # A viewer has no menu entry for the audit log.
    expect(page.get_by_role("link", name="操作記録")).to_have_count(0)

    with page.expect_download() as info:
        page.get_by_role("link", name="CSVで書き出す").click()
    download = info.value
    assert download.suggested_filename.startswith("statistics_") and download.suggested_filename.endswith(".csv")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    header = data.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("週,開始日,終了日,友だち追加,同意,同意しない,予約確定,予約確定（キャリア・転職）")
    assert header.endswith("キャンセル（利用者）,キャンセル（本人の連絡で窓口）,キャンセル（窓口）,相談実施,欠席（連絡なし）")

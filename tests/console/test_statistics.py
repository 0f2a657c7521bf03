"""The statistics page and its CSV export, as admins and viewers use them: the figures of a known
set of rows, the same figures in the page and the CSV, and no personal data in either."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest

from tests.support.console import (
    VIEWER_EMAIL,
    audit_rows,
    create_operator,
    signed_in_client,
)
from tests.support.statistics_data import (
    PERSONAL,
    SECRET_TEXT,
    TODAY,
    line_user_id,
    seed,
)


@pytest.fixture
def seeded(app):
    app.extensions["services"].clock.set(TODAY)
    seed(app.extensions["db"])
    create_operator(app)
    create_operator(app, VIEWER_EMAIL, "viewer", name="統計 閲覧者")
    return app


def table(page: str, table_id: str) -> list[list[str]]:
    """The cells of one table of the page, header row first, as text."""
    body = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, re.S).group(0)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]


def csv_sections(data: bytes) -> list[list[list[str]]]:
    sections: list[list[list[str]]] = [[]]
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))):
        if row:
            sections[-1].append(row)
        else:
            sections.append([])
    return sections


@pytest.mark.parametrize("email", ["admin@desk.example.jp", VIEWER_EMAIL])
def test_admins_and_viewers_see_the_weekly_figures_and_the_drop_off(seeded, email):
    page = signed_in_client(seeded, email).get("/console/statistics")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    weekly = table(html, "weekly-table")
    assert weekly[0][:7] == ["週", "開始日", "終了日", "友だち追加", "同意", "同意しない", "予約確定"]
    assert len(weekly) == 1 + 12 + 1
    assert weekly[-2] == ["2026-W47", "2026-11-16", "2026-11-22", "4", "4", "0", "4", "2", "1", "0", "1", "1", "0", "1", "0", "1"]
    assert weekly[-1][0] == "合計"
    funnel = table(html, "funnel-table")
    assert [row[1] for row in funnel[1:]] == ["7", "6", "6", "6", "6", "5", "5", "5", "5", "5", "5", "5"]
    assert html.count('<svg class="chart"') == 5
    assert '<title id="chart-funnel-title">' in html


def test_the_csv_holds_exactly_the_figures_of_the_page_and_is_audited_as_an_export(seeded):
    client = signed_in_client(seeded, VIEWER_EMAIL)
    html = client.get("/console/statistics?start=2026-10-01&end=2026-11-20").get_data(as_text=True)
    response = client.get("/console/statistics.csv?start=2026-10-01&end=2026-11-20")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="statistics_20260928-20261122.csv"'
    assert response.data.startswith(b"\xef\xbb\xbf")
    weekly, funnel, chats = csv_sections(response.data)
    assert weekly == table(html, "weekly-table")
    assert funnel == table(html, "funnel-table")
    assert chats == table(html, "chat-table")
    [entry] = audit_rows(seeded, "export_statistics")
    assert entry.operator_email == VIEWER_EMAIL
    assert '"start": "2026-09-28"' in entry.detail and '"end": "2026-11-22"' in entry.detail
    assert not audit_rows(seeded, "view_statistics")


def test_no_personal_data_reaches_the_page_or_the_csv(seeded):
    client = signed_in_client(seeded)
    outputs = [client.get("/console/statistics").get_data(as_text=True),
               client.get("/console/statistics.csv").data.decode("utf-8-sig")]
    planted = [SECRET_TEXT, "ヒミツ", "古川", "STAT000"] + [line_user_id(k) for k in PERSONAL]
    for name, email, phone in PERSONAL.values():
        planted += [name, name.split()[0], email, email.split("@")[0], phone, f"{phone[:3]}-{phone[3:7]}"]
    for output in outputs:
        for secret in planted:
            assert secret not in output


def test_a_chosen_period_is_shown_as_whole_iso_weeks_and_a_bad_date_falls_back_kindly(seeded):
    client = signed_in_client(seeded)
    html = client.get("/console/statistics?start=2026-11-18&end=2026-11-11").get_data(as_text=True)
    assert [row[0] for row in table(html, "weekly-table")[1:]] == ["2026-W46", "2026-W47", "合計"]
    assert "2026年11月9日(月)〜2026年11月22日(日)" in html
    html = client.get("/console/statistics?start=yesterday").get_data(as_text=True)
    assert "日付は「2026-11-01」の形式で" in html
    assert len(table(html, "weekly-table")) == 14
    html = client.get("/console/statistics?weeks=4").get_data(as_text=True)
    assert [row[0] for row in table(html, "weekly-table")[1:]] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47", "合計"]
    html = client.get("/console/statistics?start=2020-01-01&end=2026-11-22").get_data(as_text=True)
    assert "最長106週" in html
    assert len(table(html, "weekly-table")) == 1 + 106 + 1


def test_a_counsellor_may_not_open_the_statistics(seeded):
    from tests.support.console import create_counsellor_operator

    create_counsellor_operator(seeded, "aoki.satomi@desk.example.jp")
    client = signed_in_client(seeded, "aoki.satomi@desk.example.jp")
    assert client.get("/console/statistics").status_code == 403
    assert client.get("/console/statistics.csv").status_code == 403
    assert not audit_rows(seeded, "export_statistics")

"""The audit log page: admins only, newest first, paginated, filtered by operator, action, target
and dates (Tokyo), and itself audited; nothing in the console can change an entry."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from bot.console.audit_log import PAGE_SIZE
from models import AuditEntry
from tests.support.console import (
    VIEWER_EMAIL,
    audit_rows,
    create_operator,
    db,
    signed_in_client,
)

TOKYO = ZoneInfo("Asia/Tokyo")
COUNSELLOR = "ueda.mayu@desk.example.jp"


@pytest.fixture
def staffed(app):
    create_operator(app)
    create_operator(app, VIEWER_EMAIL, "viewer", name="統計 閲覧者")
    return app


def add(app, at: datetime, action: str, email: str | None = "admin@desk.example.jp", target=None, detail=None,
        ip="203.0.113.7"):
    with db(app).transaction() as session:
        session.add(AuditEntry(at=at, operator_email=email, action=action, target=target, detail=detail, ip=ip))


def rows(html: str) -> list[list[str]]:
    body = re.search(r'<table[^>]*id="audit-table".*?</table>', html, re.S)
    if body is None:
        return []
    found = re.findall(r"<tr>(.*?)</tr>", body.group(0).split("<tbody>")[1], re.S)
    return [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in found]


def test_a_viewer_gets_403_on_the_audit_log(staffed):
    assert signed_in_client(staffed, VIEWER_EMAIL).get("/console/audit").status_code == 403
    assert not audit_rows(staffed, "view_audit_log")


def test_entries_show_newest_first_in_tokyo_time_with_japanese_actions_or_the_raw_one(staffed):
    add(staffed, datetime(2026, 11, 20, 1, 2, 3, tzinfo=TOKYO), "view_booking", target="booking:AB12CD34",
        detail='{"from": "list"}')
    add(staffed, datetime(2026, 11, 21, 23, 59, 59, tzinfo=TOKYO), "something_new", email=COUNSELLOR,
        target="line_user:17", ip="198.51.100.4")
    client = signed_in_client(staffed)
    table = rows(client.get("/console/audit").get_data(as_text=True))
    # The admin's own sign-in (now) is the newest.
    assert table[0][1:3] == ["admin@desk.example.jp", "サインイン sign_in"]
    html = client.get("/console/audit?end=2026-11-21").get_data(as_text=True)
    table = rows(html)
    assert len(table) == 2
    assert table[0] == ["2026年11月21日(土) 23:59:59", COUNSELLOR, "something_new", "line_user:17", "", "198.51.100.4"]
    assert table[1] == ["2026年11月20日(金) 01:02:03", "admin@desk.example.jp", "予約の閲覧 view_booking",
                        "booking:AB12CD34", '{"from": "list"}', "203.0.113.7"]
    assert "<script>" not in html


def test_every_view_of_the_log_is_audited_with_its_filters_and_never_lists_itself(staffed):
    client = signed_in_client(staffed)
    html = client.get("/console/audit").get_data(as_text=True)
    assert "操作記録の閲覧" not in "".join(c for r in rows(html) for c in r)
    client.get("/console/audit?operator=ueda&action=view_booking&page=2")
    first, second = audit_rows(staffed, "view_audit_log")
    assert first.detail == '{"page": 1}' and first.operator_email == "admin@desk.example.jp"
    assert second.detail == '{"action": "view_booking", "operator": "ueda", "page": 2}'
    html = client.get("/console/audit?action=view_audit_log").get_data(as_text=True)
    assert [r[2] for r in rows(html)] == ["操作記録の閲覧 view_audit_log"] * 2


def test_filters_by_operator_action_target_and_tokyo_dates(staffed):
    day = datetime(2026, 11, 10, 9, 0, tzinfo=TOKYO)
    add(staffed, day, "view_booking", target="booking:AAAA1111")
    add(staffed, day + timedelta(days=1), "view_booking", email=COUNSELLOR, target="booking:BBBB2222")
    add(staffed, day + timedelta(days=2), "view_conversation", email=COUNSELLOR, target="line_user:5")
    add(staffed, datetime(2026, 11, 13, 0, 30, tzinfo=TOKYO), "view_user", target="line_user:50_%")  # the 12th in UTC
    add(staffed, day, "sign_in_failed", email="someone@else.example", detail='{"reason": "unknown_email"}')
    client = signed_in_client(staffed)

    def targets(query: str) -> list[str]:
        return [r[3] for r in rows(client.get(f"/console/audit?{query}").get_data(as_text=True))]

    assert targets("operator=UEDA") == ["line_user:5", "booking:BBBB2222"]
    assert targets("action=view_booking") == ["booking:BBBB2222", "booking:AAAA1111"]
    assert targets("action=view_booking&operator=ueda") == ["booking:BBBB2222"]
    assert targets("target=line_user:5") == ["line_user:50_%", "line_user:5"]
    assert targets("target=line_user:50_") == ["line_user:50_%"]
    assert targets("target=%25") == ["line_user:50_%"]  # a % is a character, not a wildcard
    assert targets("start=2026-11-11&end=2026-11-12") == ["line_user:5", "booking:BBBB2222"]
    assert targets("start=2026-11-13&end=2026-11-13") == ["line_user:50_%"]
    assert targets("operator=else.example") == [""]
    html = client.get("/console/audit?start=tomorrow&end=2026-11-21").get_data(as_text=True)
    assert "開始日は「2026-11-01」の形式で" in html
    assert len(rows(html)) == 5  # the bad date is dropped, the other filters still apply
    # The action filter offers the actions recorded so far, in Japanese.
    assert '<option value="view_conversation">会話の閲覧</option>' in html


def test_pages_of_fifty_newest_first_keep_the_filters(staffed):
    start = datetime(2026, 11, 1, 9, 0, tzinfo=TOKYO)
    with db(staffed).transaction() as session:
        for i in range(PAGE_SIZE + 5):
            session.add(AuditEntry(at=start + timedelta(minutes=i), operator_email=COUNSELLOR, action="view_booking",
                                   target=f"booking:N{i:04d}"))
    client = signed_in_client(staffed)
    first = client.get("/console/audit?action=view_booking").get_data(as_text=True)
    assert [r[3] for r in rows(first)][:2] == ["booking:N0054", "booking:N0053"]
    assert len(rows(first)) == PAGE_SIZE
    assert 'href="/console/audit?page=2&amp;action=view_booking"' in first or \
        'href="/console/audit?action=view_booking&amp;page=2"' in first
    second = client.get("/console/audit?action=view_booking&page=2").get_data(as_text=True)
    assert [r[3] for r in rows(second)] == [f"booking:N{i:04d}" for i in range(4, -1, -1)]
    assert "古い記録へ" not in second and "新しい記録へ" in second


def test_no_console_route_changes_the_audit_log(staffed):
    rules = [r for r in staffed.url_map.iter_rules() if r.endpoint == "console.audit_log"]
    assert [sorted(r.methods - {"HEAD", "OPTIONS"}) for r in rules] == [["GET"]]
    client = signed_in_client(staffed)
    assert client.post("/console/audit").status_code in (400, 405)

    def snapshot():
        return [(e.id, e.at, e.operator_email, e.action, e.target, e.detail, e.ip) for e in audit_rows(staffed)]

    before = snapshot()
    html = client.get("/console/audit?action=x&target=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    after = snapshot()
    assert after[:len(before)] == before and len(after) == len(before) + 1

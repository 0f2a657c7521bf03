"""The console's home page by role: sessions (never a user's name), failed Teams handoffs, open
alerts with their resolve action, flagged conversations and the service status, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from bot.demo import load_demo_data
from models import LineUser, OperatorAlert
from tests.support.console import (
    AOKI,
    ISHII,
    at_desk,
    audit_rows,
    create_counsellor_operator,
    create_operator,
    db,
    insert_booking,
    post_form,
    signed_in_client,
    text_of,
    tokyo,
)


def section(page: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}"[^>]*>(.*?)</section>', page, re.DOTALL)
    assert match, section_id
    return match.group(1)


def a_busy_wednesday(app) -> int:
    """Sessions today and later for two counsellors, a failed handoff with its alert; the alert's id."""
    load_demo_data(db(app))
    create_operator(app)
    at_desk(app, tokyo(12, 2, 9))
    insert_booking(app, "AOKI0010", AOKI, tokyo(12, 2, 10))
    insert_booking(app, "ISHII010", ISHII, tokyo(12, 2, 13), teams_status="failed")
    insert_booking(app, "CANC0010", AOKI, tokyo(12, 2, 15), status="cancelled")
    insert_booking(app, "AOKI0011", AOKI, tokyo(12, 4, 11))
    insert_booking(app, "LATE0010", AOKI, tokyo(12, 28, 11))  # beyond the next 14 days
    with db(app).transaction() as session:
        alert = OperatorAlert(kind="handoff_failed", message="Teams handoff failed for booking ISHII010")
        session.add(alert)
        session.flush()
        return alert.id


def test_an_admin_sees_todays_and_upcoming_sessions_failed_handoffs_and_alerts_without_names(app):
    a_busy_wednesday(app)
    page = text_of(signed_in_client(app).get("/console/"))
    today = section(page, "sessions-today")
    assert "AOKI0010" in today and "ISHII010" in today and "CANC0010" not in today
    assert "10:00" in today and "キャリア・転職" in today and "青木 里美" in today and "予約確定" in today
    assert 'href="/console/bookings/AOKI0010"' in today
    upcoming = section(page, "sessions-upcoming")
    assert "AOKI0011" in upcoming and "12月4日(金)" in upcoming and "LATE0010" not in upcoming
    assert "ISHII010" in section(page, "failed-handoffs") and "AOKI0010" not in section(page, "failed-handoffs")
    alerts = section(page, "open-alerts")
    assert "Teams handoff failed for booking ISHII010" in alerts and "対応済みにする" in alerts
    assert re.search(r'id="count-bookings-today">2<', page) and re.search(r'id="count-failed-handoffs">1<', page)
    assert "山田" not in page and "ヤマダ" not in page  # no user's name on the dashboard


def test_a_counsellor_sees_only_their_own_sessions_and_no_alerts(app):
    a_busy_wednesday(app)
    create_counsellor_operator(app, AOKI, "青木 里美")
    page = text_of(signed_in_client(app, AOKI).get("/console/"))
    assert "AOKI0010" in section(page, "sessions-today") and "AOKI0011" in section(page, "sessions-upcoming")
    assert "ISHII010" not in page and "石井" not in page
    assert 'id="open-alerts"' not in page and "対応済みにする" not in page
    assert "count-" not in page and "山田" not in page


def test_a_viewer_gets_a_short_welcome_and_a_link_to_statistics(app):
    a_busy_wednesday(app)
    create_operator(app, "viewer@desk.example.jp", "viewer", name="統計 閲覧")
    page = text_of(signed_in_client(app, "viewer@desk.example.jp").get("/console/"))
    assert "統計 閲覧" in page and 'href="/console/statistics"' in page
    for hidden in ("AOKI0010", "ISHII010", "Teams handoff failed", "count-", "本日", "メンテナンス"):
        assert hidden not in page, hidden


def test_flagged_conversations_are_counted_for_each_role_with_a_link_and_the_service_status_shows(app):
    a_busy_wednesday(app)
    create_counsellor_operator(app, AOKI)
    with db(app).transaction() as session:
        for line_user_id in ("Uaoki0010", "Uishii010", "Unobooking"):  # see insert_booking's ids
            user = session.scalar(select(LineUser).where(LineUser.line_user_id.startswith(line_user_id)))
            if user is None:
                user = LineUser(line_user_id=line_user_id.ljust(33, "0"))
                session.add(user)
            user.flagged_at = tokyo(12, 1, 20)
    admin = text_of(signed_in_client(app).get("/console/"))
    assert re.search(r'id="flagged-conversations">3<', admin)
    assert 'href="/console/conversations?flagged=1"' in admin
    own = text_of(signed_in_client(app, AOKI).get("/console/"))
    assert re.search(r'id="flagged-conversations">1<', own)  # only the users booked with them

    status = section(admin, "service-status")
    assert "通常運転" in status and "LINE チャネルに接続" in status
    assert "Teams は未設定です" in status


def test_an_admin_resolves_an_alert_and_it_leaves_the_dashboard(app):
    alert_id = a_busy_wednesday(app)
    create_counsellor_operator(app, AOKI)
    aoki = signed_in_client(app, AOKI)
    assert post_form(aoki, "/console/", f"/console/alerts/{alert_id}/resolve").status_code == 403

    admin = signed_in_client(app)
    response = post_form(admin, "/console/", f"/console/alerts/{alert_id}/resolve")
    assert response.status_code == 302
    page = text_of(admin.get(response.location))
    assert "お知らせを対応済みにしました。" in page
    assert "Teams handoff failed for booking ISHII010" not in page and re.search(r'id="count-open-alerts">0<', page)
    with db(app).transaction() as session:
        assert session.get(OperatorAlert, alert_id).resolved_at is not None
    [entry] = audit_rows(app, "resolve_alert")
    assert entry.target == f"alert:{alert_id}" and json.loads(entry.detail) == {"kind": "handoff_failed"}
    assert post_form(admin, "/console/", "/console/alerts/99999/resolve").status_code == 404

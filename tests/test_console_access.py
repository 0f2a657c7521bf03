"""Every console route walked with every role: what each role may open, and that nothing personal
leaks to a role that may not see it.

Two counsellors each have one booked user with distinctive personal data. For every route under
/console, filled in once with the first counsellor's objects and once with the second's:
- a role the view does not allow gets 403;
- the first counsellor opens their own booking and user, and gets 403 or 404 for the other's,
  whose personal data never appears in any page they can open;
- the viewer (statistics only) sees no personal data on any page at all.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import Booking, Counsellor, LineUser, MessageLog, OperatorAlert
from tests.support.console import (
    PASSWORD,
    VIEWER_EMAIL,
    create_operator,
    csrf_token,
    db,
    signed_in_client,
)

TOKYO = ZoneInfo("Asia/Tokyo")
OWN, OTHER = "own", "other"

PEOPLE = {
    OWN: dict(counsellor=("相談 一郎", "ichiro@desk.example.jp"), user="U" + "1" * 32, reference="OWN-0001",
              name="山田 花子", furigana="ヤマダ ハナコ", email="hanako.yamada@example.jp", phone="090-1111-2222",
              said="上司からのパワハラについて相談したい"),
    OTHER: dict(counsellor=("相談 二郎", "jiro@desk.example.jp"), user="U" + "2" * 32, reference="OTH-0002",
                name="佐々木 次郎", furigana="ササキ ジロウ", email="jiro.sasaki@example.jp", phone="080-3333-4444",
                said="残業代が払われていないことについて"),
}


def personal_data(who: str) -> list[str]:
    p = PEOPLE[who]
    return [p["name"], p["furigana"], p["email"], p["phone"], p["said"]]


@pytest.fixture
def world(app):
    """The two counsellors, their booked users and operators; the ids to fill routes in with."""
    start = datetime.now(TOKYO).replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=7)
    ids: dict[str, dict[str, object]] = {}
    with db(app).transaction() as session:
        for n, (who, p) in enumerate(PEOPLE.items()):
            counsellor = Counsellor(name=p["counsellor"][0], email=p["counsellor"][1], topics=["その他"],
                                    weekly={}, days_off=[])
            user = LineUser(line_user_id=p["user"], followed_at=start - timedelta(days=8), flagged_at=start)
            session.add_all([counsellor, user])
            session.flush()
            booking = Booking(reference=p["reference"], user_id=user.id, counsellor_id=counsellor.id, topic="その他",
                              starts_at=start + timedelta(hours=n), ends_at=start + timedelta(hours=n, minutes=30),
                              status="confirmed", confirmed_at=start - timedelta(days=7), name=p["name"],
                              furigana=p["furigana"], age=25, email=p["email"], phone=p["phone"],
                              consultation=p["said"], teams_status="failed", handoff_error="403")
            session.add(booking)
            session.flush()
            session.add(MessageLog(user_id=user.id, direction="in", kind="text", text=p["said"],
                                   payload={"type": "text", "text": p["said"]}, flow="booking", step="consultation"))
            alert = OperatorAlert(kind="handoff_failed", booking_id=booking.id, message="Teams の会議を作れませんでした")
            session.add(alert)
            session.flush()
            ids[who] = {"user_id": user.id, "reference": booking.reference, "counsellor_id": counsellor.id,
                        "alert_id": alert.id, "version": "2026-04-01"}
    create_operator(app)
    create_operator(app, VIEWER_EMAIL, "viewer", PASSWORD, "統計 閲覧")
    create_operator(app, PEOPLE[OWN]["counsellor"][1], "counsellor", PASSWORD, PEOPLE[OWN]["counsellor"][0],
                    "--counsellor-email", PEOPLE[OWN]["counsellor"][1])
    return ids


def console_rules(app):
    return [r for r in app.url_map.iter_rules()
            if r.rule.startswith("/console") and not getattr(app.view_functions[r.endpoint], "console_public", False)]


def fill(rule, values: dict[str, object]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1).split(":")[-1]
        assert name in values, f"{rule.rule}: no test value for <{name}>"
        return str(values[name])

    return re.sub(r"<([^>]+)>", value, rule.rule)


def allowed(app, rule, role: str) -> bool:
    roles = getattr(app.view_functions[rule.endpoint], "console_roles", ())
    return not roles or role in roles


def methods(rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def test_the_walk_covers_every_area_of_the_console(app):
    endpoints = {r.endpoint for r in console_rules(app)}
    for area in ("conversations", "conversation", "users", "bookings", "booking", "counsellors", "policies",
                 "statistics", "statistics_csv", "audit_log", "settings"):
        assert f"console.{area}" in endpoints, area


def test_each_role_gets_403_on_every_route_its_role_does_not_allow(app, world):
    for email, role in (("admin@desk.example.jp", "admin"), (VIEWER_EMAIL, "viewer"),
                        (PEOPLE[OWN]["counsellor"][1], "counsellor")):
        client = signed_in_client(app, email)
        token = csrf_token(client.get("/console/"))
        checked = 0
        for rule in console_rules(app):
            path = fill(rule, world[OWN])
            for method in methods(rule):
                if allowed(app, rule, role):
                    if method == "GET":
                        response = client.get(path)
                        assert response.status_code in (200, 302, 303), (role, method, path, response.status_code)
                    continue
                response = client.open(path, method=method, headers={"X-CSRFToken": token})
                assert response.status_code == 403, (role, method, path, response.status_code)
                checked += 1
        if role != "admin":
            assert checked >= 5, role


def test_a_counsellor_opens_their_own_booked_user_and_never_the_others(app, world):
    client = signed_in_client(app, PEOPLE[OWN]["counsellor"][1])
    token = csrf_token(client.get("/console/"))
    own_pages = 0
    for rule in console_rules(app):
        if not allowed(app, rule, "counsellor"):
            continue
        for method in methods(rule):
            if method == "GET":
                own = client.get(fill(rule, world[OWN]))
                assert own.status_code in (200, 302, 303), (rule.rule, own.status_code)
                body = own.get_data(as_text=True)
                for secret in personal_data(OTHER):
                    assert secret not in body, (rule.rule, secret)
                own_pages += any(s in body for s in personal_data(OWN))
            if rule.arguments:
                other = client.open(fill(rule, world[OTHER]), method=method, headers={"X-CSRFToken": token})
                assert other.status_code in (403, 404), (method, rule.rule, other.status_code)
                for secret in personal_data(OTHER):
                    assert secret not in other.get_data(as_text=True)
    assert own_pages >= 2  # the booking and the conversation of their own user


def test_the_viewer_sees_no_personal_data_anywhere(app, world):
    client = signed_in_client(app, VIEWER_EMAIL)
    opened = 0
    for rule in console_rules(app):
        if "GET" not in methods(rule):
            continue
        for who in (OWN, OTHER):
            response = client.get(fill(rule, world[who]))
            body = response.get_data(as_text=True)
            for secret in personal_data(OWN) + personal_data(OTHER):
                assert secret not in body, (rule.rule, secret)
            opened += response.status_code == 200
    assert opened >= 3  # the dashboard, the statistics and their CSV

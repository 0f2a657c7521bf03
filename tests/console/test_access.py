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

from zoneinfo import ZoneInfo

from tests.support.console import (
    OTHER,
    OWN,
    PEOPLE,
    VIEWER_EMAIL,
    csrf_token,
    fill,
    personal_data,
    signed_in_client,
)

TOKYO = ZoneInfo("Asia/Tokyo")


def console_rules(app):
    return [r for r in app.url_map.iter_rules()
            if r.rule.startswith("/console") and not getattr(app.view_functions[r.endpoint], "console_public", False)]


def allowed(app, rule, role: str) -> bool:
    roles = getattr(app.view_functions[rule.endpoint], "console_roles", ())
    return not roles or role in roles


def methods(rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def test_the_walk_covers_every_area_of_the_console(app):
    endpoints = {r.endpoint for r in console_rules(app)}
    for area in ("conversations", "conversation", "chats", "chats_view", "chats_templates", "users", "bookings", "booking", "counsellors", "policies",
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
                # Taking a chat another operator answers is refused with the reason (409), which
                # shows the chat lists and nothing of that chat.
                refused = (403, 404, 409) if rule.endpoint == "console.chats_take" else (403, 404)
                assert other.status_code in refused, (method, rule.rule, other.status_code)
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

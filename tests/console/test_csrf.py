"""Every console form refuses a request that does not carry the page's CSRF token: a signed-in admin
(the role that may post everywhere) gets 400 on every POST route under /console, sent without a
token or with a wrong one, and nothing in the database changes."""

from __future__ import annotations

from sqlalchemy import select

from models.base import Base
from tests.support.console import (
    ADMIN_EMAIL,
    OWN,
    PASSWORD,
    csrf_token,
    db,
    fill,
    signed_in_client,
)

# What each form would send with its token: the refusal must not depend on the form being empty.
FORM = {"reason": "テスト", "confirm": "yes", "active": "off", "outcome": "no-show", "notice": "停止中",
        "until": "明日", "enabled": "on", "body": "# 方針", "version": "2099-01-01", "email": ADMIN_EMAIL,
        "password": PASSWORD, "status": "attended"}


def post_rules(app):
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/console") and "POST" in (r.methods or ())]


def snapshot(app) -> dict[str, list[str]]:
    """Every row of every table, as text: equal snapshots mean nothing changed."""
    with db(app).transaction() as session:
        return {table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)))
                for table in Base.metadata.sorted_tables}


def test_every_console_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(app, world):  # noqa: F811
    client = signed_in_client(app, ADMIN_EMAIL)
    assert csrf_token(client.get("/console/"))  # the session holds a token; these requests do not send it
    before = snapshot(app)
    refused = []
    for rule in post_rules(app):
        path = fill(rule, world[OWN])
        for how, extra in (("no token", {}), ("wrong token", {"csrf_token": "not-the-token"}),
                           ("empty token", {"csrf_token": ""})):
            response = client.post(path, data={**FORM, **extra})
            assert response.status_code == 400, (how, path, response.status_code)
            assert "<html" in response.get_data(as_text=True).lower(), (how, path)  # the console's error page
        response = client.post(path, data=FORM, headers={"X-CSRFToken": "not-the-token"})
        assert response.status_code == 400, ("wrong header", path, response.status_code)
        refused.append(rule.rule)
    assert snapshot(app) == before
    # The logout among them was refused too: the admin is still signed in.
    assert client.get("/console/").status_code == 200
    for area in ("/console/login", "/console/logout", "/console/bookings/<reference>/cancel",
                 "/console/users/<int:user_id>/restrict", "/console/settings/maintenance"):
        assert area in refused, area


def test_a_token_from_another_session_is_refused(app, world):  # noqa: F811
    mine = signed_in_client(app, ADMIN_EMAIL)
    theirs = app.test_client()
    token_of_a_stranger = csrf_token(theirs.get("/console/login"))
    before = snapshot(app)
    response = mine.post(fill(next(r for r in post_rules(app) if r.rule.endswith("/restrict")), world[OWN]),
                         data={"reason": "テスト", "csrf_token": token_of_a_stranger})
    assert response.status_code == 400
    assert snapshot(app) == before

"""A console session ends when the operator stops working, after a fixed lifetime however active,
and on the server when they sign out; reading a timeline is audited however it is read."""

from __future__ import annotations

import json
from datetime import timedelta

from models import LineUser, MessageLog
from tests.support.console import (
    audit_rows,
    create_operator,
    csrf_token,
    db,
    goes_to_login,
    sign_in,
)


def a_user_with_messages(app, count: int = 3) -> int:
    with db(app).transaction() as session:
        user = LineUser(line_user_id="U" + "7" * 32)
        session.add(user)
        session.flush()
        session.add_all(MessageLog(user_id=user.id, direction="in", kind="text", text=f"相談したいです {n}",
                                   payload={}) for n in range(count))
        return user.id


def test_a_pages_own_polling_does_not_keep_an_idle_session_alive(build, clock):
    app = build(console_idle_minutes=5)
    create_operator(app)
    client = app.test_client()
    sign_in(client)
    user_id = a_user_with_messages(app)
    assert client.get(f"/console/conversations/{user_id}").status_code == 200
    for _ in range(2):
        clock.advance(timedelta(minutes=2))  # the page polls on its own; nobody is at the desk
        assert client.get(f"/console/conversations/{user_id}/messages?after=0").status_code == 200
    clock.advance(timedelta(minutes=1, seconds=1))
    assert goes_to_login(client.get(f"/console/conversations/{user_id}/messages?after=0"))
    assert [row.action for row in audit_rows(app, "sign_out_idle")] == ["sign_out_idle"]


def test_a_session_ends_after_its_lifetime_however_active(build, clock):
    app = build(console_session_hours=1, console_idle_minutes=30)
    create_operator(app)
    client = app.test_client()
    sign_in(client)
    for _ in range(3):
        clock.advance(timedelta(minutes=20))
        assert client.get("/console/").status_code == 200
    clock.advance(timedelta(minutes=1))
    assert goes_to_login(client.get("/console/"))
    assert "サインインから一定時間が経ったため" in client.get("/console/login").get_data(as_text=True)


def test_signing_out_ends_the_session_on_the_server_not_only_in_the_browser(build):
    app = build()
    create_operator(app)
    client = app.test_client()
    sign_in(client)
    stolen = client.get_cookie("session").value
    token = csrf_token(client.get("/console/"))
    client.post("/console/logout", data={"csrf_token": token})
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert goes_to_login(replay.get("/console/"))


def test_reading_a_timeline_through_its_polling_endpoint_is_audited_once_per_session(build):
    app = build()
    create_operator(app)
    client = app.test_client()
    sign_in(client)
    user_id = a_user_with_messages(app)
    first = client.get(f"/console/conversations/{user_id}/messages?after=0").json
    assert len(first["messages"]) == 3
    client.get(f"/console/conversations/{user_id}/messages?after={first['last_id']}")  # the live refresh
    [entry] = audit_rows(app, "view_conversation")
    assert entry.target == f"line_user:{user_id}" and json.loads(entry.detail)["via"] == "poll"
    client.get(f"/console/conversations/{user_id}")  # the page itself is audited as before
    assert len(audit_rows(app, "view_conversation")) == 2


def test_reading_older_messages_through_the_polling_endpoint_is_audited_each_time(build):
    app = build()
    create_operator(app)
    client = app.test_client()
    sign_in(client)
    user_id = a_user_with_messages(app, 5)
    client.get(f"/console/conversations/{user_id}")  # audited: the page
    newest = client.get(f"/console/conversations/{user_id}/messages?after=0").json["last_id"]  # reads back
    client.get(f"/console/conversations/{user_id}/messages?after={newest}")  # a live refresh: nothing new
    client.get(f"/console/conversations/{user_id}/messages?after=0")  # reads back again
    assert len(audit_rows(app, "view_conversation")) == 3

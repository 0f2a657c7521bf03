"""Driving the operator console in tests: operators, signing in, CSRF tokens, the audit log."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from models import AuditEntry, Counsellor, Operator

PASSWORD = "correct horse battery staple"
ADMIN_EMAIL = "admin@desk.example.jp"
VIEWER_EMAIL = "viewer@desk.example.jp"


def db(app):
    return app.extensions["db"]


def create_operator(app, email=ADMIN_EMAIL, role="admin", password=PASSWORD, name="窓口 管理者", *extra: str) -> Operator:
    """Through the real `flask --app bot create-operator` command."""
    args = ["create-operator", "--email", email, "--name", name, "--role", role, *extra]
    args += ["--sso-only"] if password is None else ["--password", password]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    return operator(app, email)


def create_counsellor_operator(app, counsellor_email: str, name: str = "相談員") -> Operator:
    """An operator with the counsellor role for an existing counsellor row (same e-mail)."""
    return create_operator(app, counsellor_email, "counsellor", PASSWORD, name, "--counsellor-email", counsellor_email)


def operator(app, email) -> Operator:
    with db(app).transaction() as session:
        return session.scalar(select(Operator).where(Operator.email == email))


def counsellor(app, email: str) -> Counsellor:
    with db(app).transaction() as session:
        return session.scalar(select(Counsellor).where(Counsellor.email == email))


def audit_rows(app, action: str | None = None) -> list[AuditEntry]:
    with db(app).transaction() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list(session.scalars(query))


def csrf_token(page) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client, email=ADMIN_EMAIL, password=PASSWORD):
    token = csrf_token(client.get("/console/login"))
    return client.post("/console/login", data={"email": email, "password": password, "csrf_token": token})


def signed_in_client(app, email=ADMIN_EMAIL):
    client = app.test_client()
    response = sign_in(client, email)
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    return client


def post_form(client, page_url: str, action_url: str, data: dict | None = None):
    """Open the page that holds a form (for its CSRF token), then post the form to `action_url`."""
    token = csrf_token(client.get(page_url))
    return client.post(action_url, data={**(data or {}), "csrf_token": token})


def goes_to_login(response) -> bool:
    return response.status_code in (302, 303) and urlsplit(response.location).path == "/console/login"

"""Logins: an admin adds, changes, deactivates and unlocks console logins in the console, and a
counsellor who is deactivated loses their login with it."""

from __future__ import annotations

import json

from sqlalchemy import select

from models import Counsellor, Operator
from tests.support.console import (
    ADMIN_EMAIL,
    PASSWORD,
    audit_rows,
    create_counsellor_operator,
    create_operator,
    db,
    goes_to_login,
    post_form,
    sign_in,
    signed_in_client,
)

PAGE = "/console/operators"


def login(app, email: str) -> Operator:
    with db(app).transaction() as session:
        return session.scalar(select(Operator).where(Operator.email == email))


def test_an_admin_adds_a_login_who_can_then_sign_in(app):
    create_operator(app)
    admin = signed_in_client(app)
    added = post_form(admin, PAGE, PAGE, {"email": "New.Staff@desk.example.jp", "name": "新人 職員", "role": "viewer",
                                          "counsellor_id": "", "password": "a long new passphrase"})
    assert added.status_code == 303
    assert "新人 職員" in admin.get(PAGE).get_data(as_text=True)
    assert sign_in(app.test_client(), "new.staff@desk.example.jp", "a long new passphrase").status_code == 302
    assert [json.loads(r.detail)["via"] for r in audit_rows(app, "operator_created")] == ["cli", "console"]


def test_a_short_password_or_a_counsellor_without_a_counsellor_is_refused_with_a_reason(app):
    create_operator(app)
    admin = signed_in_client(app)
    short = post_form(admin, PAGE, PAGE, {"email": "x@desk.example.jp", "name": "X", "role": "viewer",
                                          "counsellor_id": "", "password": "short"})
    assert short.status_code == 422 and "12文字以上" in short.get_data(as_text=True)
    unlinked = post_form(admin, PAGE, PAGE, {"email": "y@desk.example.jp", "name": "Y", "role": "counsellor",
                                             "counsellor_id": "", "password": "a long new passphrase"})
    assert unlinked.status_code == 422 and "対応する相談員" in unlinked.get_data(as_text=True)
    assert login(app, "x@desk.example.jp") is None and login(app, "y@desk.example.jp") is None


def test_deactivating_a_new_password_or_a_new_role_signs_the_login_out_at_once(app):
    create_operator(app)
    staff = create_operator(app, "staff@desk.example.jp", "admin", PASSWORD, "職員")
    admin = signed_in_client(app)
    theirs = signed_in_client(app, "staff@desk.example.jp")
    assert post_form(admin, PAGE, f"{PAGE}/{staff.id}/role", {"role": "viewer", "counsellor_id": ""}).status_code == 303
    assert goes_to_login(theirs.get("/console/"))

    theirs = signed_in_client(app, "staff@desk.example.jp")
    assert post_form(admin, PAGE, f"{PAGE}/{staff.id}/password", {"password": "another long passphrase"}).status_code == 303
    assert goes_to_login(theirs.get("/console/"))

    theirs = app.test_client()
    assert sign_in(theirs, "staff@desk.example.jp", "another long passphrase").status_code == 302
    assert post_form(admin, PAGE, f"{PAGE}/{staff.id}/deactivate", {}).status_code == 303
    assert goes_to_login(theirs.get("/console/"))
    assert login(app, "staff@desk.example.jp").active is False
    assert sign_in(app.test_client(), "staff@desk.example.jp", "another long passphrase").status_code == 401


def test_an_admin_cannot_deactivate_their_own_login(app):
    me = create_operator(app)
    admin = signed_in_client(app)
    refused = post_form(admin, PAGE, f"{PAGE}/{me.id}/deactivate", {})
    assert refused.status_code == 422 and login(app, ADMIN_EMAIL).active


def test_an_admin_lifts_a_lock_from_the_console(app, clock):
    create_operator(app)
    staff = create_operator(app, "staff@desk.example.jp", "viewer", PASSWORD, "職員")
    with db(app).transaction() as session:
        session.get(Operator, staff.id).locked_at = clock()
    assert sign_in(app.test_client(), "staff@desk.example.jp").status_code == 429
    admin = signed_in_client(app)
    assert "ロック中" in admin.get(PAGE).get_data(as_text=True)
    assert post_form(admin, PAGE, f"{PAGE}/{staff.id}/unlock", {}).status_code == 303
    assert sign_in(app.test_client(), "staff@desk.example.jp").status_code == 302


def test_a_deactivated_counsellor_loses_their_console_login(app, services):
    from bot.demo import load_demo_data

    load_demo_data(services.db)
    create_operator(app)
    aoki = "aoki.satomi@desk.example.jp"
    create_counsellor_operator(app, aoki, "青木 里美")
    theirs = signed_in_client(app, aoki)
    with db(app).transaction() as session:
        counsellor_id = session.scalar(select(Counsellor.id).where(Counsellor.email == aoki))
    admin = signed_in_client(app)
    page = f"/console/counsellors/{counsellor_id}"
    assert post_form(admin, page, f"{page}/active", {"active": "0"}).status_code in (302, 303)
    assert goes_to_login(theirs.get("/console/"))
    assert login(app, aoki).active is False

"""The operator console's foundation: operators, sign-in (password and Entra ID), throttling, idle
sign-out, sign-out, roles, CSRF and the append-only audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from datetime import time as clock_time
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import exc, select, text

from bot.config import Config, SsoSettings
from models import (
    Booking,
    Counsellor,
    LineUser,
    Operator,
    OperatorAlert,
    SignInAttempt,
)
from tests.support.console import (
    ADMIN_EMAIL,
    PASSWORD,
    audit_rows,
    create_operator,
    csrf_token,
    db,
    goes_to_login,
    operator,
    sign_in,
)
from tests.support.fake_microsoft import FakeMicrosoft

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def app(build):
    return build()


def test_create_operator_stores_an_argon2_hash_and_links_a_counsellor(app):
    admin = create_operator(app)
    assert admin.role == "admin" and admin.active and admin.session_version == 1
    assert admin.password_hash.startswith("$argon2id$") and PASSWORD not in admin.password_hash

    with db(app).transaction() as session:
        session.add(Counsellor(name="相談 花子", email="hanako@desk.example.jp", topics=[], weekly={}, days_off=[]))
    runner = app.test_cli_runner()
    prompted = runner.invoke(args=["create-operator", "--email", "Hanako@Desk.example.jp", "--name", "相談 花子",
                                   "--role", "counsellor", "--counsellor-email", "hanako@desk.example.jp"],
                             input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    hanako = operator(app, "hanako@desk.example.jp")
    with db(app).transaction() as session:
        counsellor_id = session.scalar(select(Counsellor.id).where(Counsellor.email == "hanako@desk.example.jp"))
    assert hanako.counsellor_id == counsellor_id and hanako.role == "counsellor"

    sso_only = create_operator(app, "staff@desk.example.jp", "viewer", None)
    assert sso_only.password_hash is None
    assert [r.target for r in audit_rows(app, "operator_created")] == [
        f"operator:{admin.id}", f"operator:{hanako.id}", f"operator:{sso_only.id}"]


def test_create_operator_refuses_a_duplicate_a_short_password_and_an_unlinked_counsellor(app):
    create_operator(app)
    runner = app.test_cli_runner()
    base = ["create-operator", "--name", "誰か", "--password", PASSWORD]
    assert runner.invoke(args=base + ["--email", ADMIN_EMAIL.upper(), "--role", "viewer"]).exit_code != 0
    short = ["create-operator", "--name", "誰か", "--email", "b@desk.example.jp", "--role", "viewer",
             "--password", "short"]
    assert runner.invoke(args=short).exit_code != 0
    assert runner.invoke(args=base + ["--email", "c@desk.example.jp", "--role", "counsellor"]).exit_code != 0
    assert runner.invoke(args=base + ["--email", "d@desk.example.jp", "--role", "counsellor",
                                      "--counsellor-email", "nobody@desk.example.jp"]).exit_code != 0
    with db(app).transaction() as session:
        assert session.scalar(select(Operator.email)) == ADMIN_EMAIL
        assert len(session.scalars(select(Operator)).all()) == 1


def test_password_sign_in_opens_the_dashboard_and_is_audited(app, client):
    admin = create_operator(app)
    login = client.get("/console/login")
    assert login.status_code == 200 and login.headers["Cache-Control"] == "no-store"
    assert "Microsoftアカウントでサインイン" not in login.get_data(as_text=True)  # SSO is not configured

    response = sign_in(client, "  Admin@Desk.example.jp ")
    assert response.status_code == 302 and urlsplit(response.location).path == "/console/"
    page = client.get("/console/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "窓口 管理者" in body and "管理者" in body and "サインアウト" in body

    [entry] = audit_rows(app, "sign_in")
    assert entry.operator_id == admin.id and entry.operator_email == ADMIN_EMAIL
    assert json.loads(entry.detail) == {"method": "password"} and entry.ip == "127.0.0.1"
    assert operator(app, ADMIN_EMAIL).last_sign_in_at is not None


def test_a_wrong_password_or_unknown_address_gets_one_generic_message_and_is_audited(app, client):
    create_operator(app)
    wrong = sign_in(client, ADMIN_EMAIL, "not the password")
    unknown = sign_in(client, "nobody@desk.example.jp", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "メールアドレスまたはパスワードが正しくありません。" in response.get_data(as_text=True)
    assert goes_to_login(client.get("/console/"))

    failures = audit_rows(app, "sign_in_failed")
    assert [(f.operator_id, f.operator_email, json.loads(f.detail)["reason"]) for f in failures] == [
        (None, ADMIN_EMAIL, "wrong_password"), (None, "nobody@desk.example.jp", "unknown_email")]
    assert all("not the password" not in (f.detail or "") for f in audit_rows(app))


def test_five_failures_lock_the_address_even_with_the_right_password_until_the_window_passes(app, client, clock):
    create_operator(app)
    for _ in range(5):
        assert sign_in(client, ADMIN_EMAIL, "guess").status_code == 401
    refused = sign_in(client, ADMIN_EMAIL, PASSWORD)
    assert refused.status_code == 429 and "しばらく" in refused.get_data(as_text=True)
    assert goes_to_login(client.get("/console/"))
    assert json.loads(audit_rows(app, "sign_in_refused")[-1].detail)["reason"] == "throttled"

    # Another IP is not locked out by these failures (once the address's one-second wait is over).
    clock.advance(timedelta(seconds=1))
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert sign_in(elsewhere, ADMIN_EMAIL, PASSWORD).status_code == 302

    with db(app).transaction() as session:  # sixteen minutes pass
        for attempt in session.scalars(select(SignInAttempt)):
            attempt.at -= timedelta(minutes=16)
    assert sign_in(client, ADMIN_EMAIL, PASSWORD).status_code == 302
    assert client.get("/console/").status_code == 200


def test_an_idle_session_ends_after_the_configured_minutes(build, clock):
    app = build(console_idle_minutes=5)
    client = app.test_client()
    create_operator(app)
    sign_in(client)
    clock.advance(timedelta(minutes=4))
    assert client.get("/console/").status_code == 200  # and that request counts as activity
    clock.advance(timedelta(minutes=4))
    assert client.get("/console/").status_code == 200
    clock.advance(timedelta(minutes=5, seconds=1))
    assert goes_to_login(client.get("/console/"))
    assert "一定時間操作がなかったため" in client.get("/console/login").get_data(as_text=True)
    assert goes_to_login(client.get("/console/"))
    [idle] = audit_rows(app, "sign_out_idle")
    assert idle.operator_email == ADMIN_EMAIL


def test_sign_out_needs_a_post_with_a_csrf_token(app, client):
    create_operator(app)
    sign_in(client)
    assert client.get("/console/logout").status_code == 405
    assert client.post("/console/logout").status_code == 400
    assert client.post("/console/logout", data={"csrf_token": "forged"}).status_code == 400
    dashboard = client.get("/console/")
    assert dashboard.status_code == 200  # still signed in

    response = client.post("/console/logout", data={"csrf_token": csrf_token(dashboard)})
    assert goes_to_login(response)
    assert goes_to_login(client.get("/console/"))
    assert [r.action for r in audit_rows(app)][-2:] == ["sign_in", "sign_out"]


def test_the_sign_in_form_itself_needs_a_csrf_token(app, client):
    create_operator(app)
    response = client.post("/console/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    assert goes_to_login(client.get("/console/"))


def test_deactivating_an_operator_or_bumping_their_session_version_ends_their_session(app, client):
    admin = create_operator(app)
    sign_in(client)
    assert client.get("/console/").status_code == 200
    with db(app).transaction() as session:
        session.get(Operator, admin.id).active = False
    assert goes_to_login(client.get("/console/"))
    assert sign_in(client).status_code == 401  # and they cannot come back

    with db(app).transaction() as session:
        session.get(Operator, admin.id).active = True
    assert sign_in(client).status_code == 302
    with db(app).transaction() as session:
        session.get(Operator, admin.id).session_version += 1  # a new password
    assert goes_to_login(client.get("/console/"))
    assert [r.action for r in audit_rows(app, "session_revoked")] == ["session_revoked"] * 2


def _example_path(rule) -> str:
    return re.sub(r"<[^>]+>", "1", rule.rule)


def test_every_console_route_refuses_an_anonymous_visitor(app, client):
    create_operator(app)
    token = csrf_token(client.get("/console/login"))
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/console")]
    public = {r.endpoint for r in rules if getattr(app.view_functions[r.endpoint], "console_public", False)}
    assert public == {"console.login", "console.login_submit", "console.sso_start", "console.sso_callback"}
    checked = 0
    for rule in rules:
        if rule.endpoint in public:
            continue
        for method in sorted(((rule.methods or set()) - {"HEAD", "OPTIONS"}) | {"GET"}):
            response = client.open(_example_path(rule), method=method, headers={"X-CSRFToken": token})
            assert goes_to_login(response) or response.status_code in (401, 403, 405), (rule.rule, method)
            checked += 1
    assert checked >= 3
    # Without SSO configured its pages do not exist either.
    assert client.get("/console/login/sso").status_code == 404
    assert client.get("/console/auth/callback").status_code == 404


def _one_of_each_count(app) -> None:
    today = db(app).clock().astimezone(TOKYO).date()
    noon = datetime.combine(today, clock_time(12), TOKYO)
    with db(app).transaction() as session:
        counsellor = Counsellor(name="相談 一郎", email="ichiro@desk.example.jp", topics=[], weekly={}, days_off=[])
        user = LineUser(line_user_id="U" + "b" * 32)
        session.add_all([counsellor, user])
        session.flush()
        booking = Booking(reference="AB12CD34", user_id=user.id, counsellor_id=counsellor.id, topic="就職",
                          starts_at=noon, ends_at=noon + timedelta(minutes=50), status="confirmed",
                          name="山田 太郎", teams_status="failed")
        session.add(booking)
        session.flush()
        session.add(OperatorAlert(kind="handoff_failed", booking_id=booking.id, message="Teams の会議を作れませんでした"))


def test_an_admin_sees_the_counts_and_a_viewer_or_counsellor_does_not(app):
    create_operator(app)
    create_operator(app, "viewer@desk.example.jp", "viewer", PASSWORD, "統計 閲覧")
    _one_of_each_count(app)
    create_operator(app, "ichiro@desk.example.jp", "counsellor", PASSWORD, "相談 一郎",
                    "--counsellor-email", "ichiro@desk.example.jp")

    admin = app.test_client()
    sign_in(admin)
    body = admin.get("/console/").get_data(as_text=True)
    for name in ("bookings-today", "open-alerts", "failed-handoffs"):
        assert re.search(rf'id="count-{name}">1<', body), name
    assert "山田" not in body  # counts only

    viewer = app.test_client()
    sign_in(viewer, "viewer@desk.example.jp")
    page = viewer.get("/console/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "統計 閲覧" in body and "閲覧者" in body
    assert "count-" not in body and "本日の相談予約" not in body

    counsellor = app.test_client()
    sign_in(counsellor, "ichiro@desk.example.jp")
    body = counsellor.get("/console/").get_data(as_text=True)
    assert "相談員" in body and "count-" not in body


def test_a_console_view_without_a_role_rule_is_refused_even_to_an_admin(app, client):
    create_operator(app)
    app.add_url_rule("/console/forgotten", endpoint="console.forgotten", view_func=lambda: "personal data")
    sign_in(client)
    response = client.get("/console/forgotten")
    assert response.status_code == 403 and "personal data" not in response.get_data(as_text=True)


def test_the_audit_log_refuses_update_and_delete(app, client):
    create_operator(app)
    sign_in(client)
    before = [(r.id, r.action) for r in audit_rows(app)]
    for statement in ("UPDATE audit_log SET action = 'tampered'", "DELETE FROM audit_log"):
        with pytest.raises(exc.DBAPIError, match="append-only"):
            with db(app).engine.begin() as connection:
                connection.execute(text(statement))
    assert [(r.id, r.action) for r in audit_rows(app)] == before
    if db(app).dialect == "postgresql":
        with pytest.raises(exc.DBAPIError, match="append-only"):
            with db(app).engine.begin() as connection:
                connection.execute(text("TRUNCATE audit_log"))


def _sso_app(build, entra):
    return build(console_sso=SsoSettings(entra.tenant, entra.client_id, entra.client_secret, entra.authority))


def _through_entra(client, entra):
    """Start the sign-in, let the fake Entra ID answer (as a browser would), and land on the callback."""
    start = client.get("/console/login/sso")
    assert start.status_code == 302 and start.location.startswith(entra.authorize_endpoint + "?")
    answer = requests.get(start.location, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    assert back.path == "/console/auth/callback"
    return client.get(back.path, query_string=dict(parse_qsl(back.query)))


SSO_WARNING = "ignore:response_mode='form_post' is recommended:UserWarning"


@pytest.mark.filterwarnings(SSO_WARNING)
def test_sso_signs_in_the_operator_whose_email_matches_preferred_username(build):
    with FakeMicrosoft.running() as microsoft:
        entra = microsoft.entra
        app = _sso_app(build, entra)
        client = app.test_client()
        staff = create_operator(app, entra.user["preferred_username"], "viewer", None, "相談 担当")
        assert "Microsoftアカウントでサインイン" in client.get("/console/login").get_data(as_text=True)

        landed = _through_entra(client, entra)
        assert landed.status_code == 302 and urlsplit(landed.location).path == "/console/"
        page = client.get("/console/")
        assert page.status_code == 200 and "相談 担当" in page.get_data(as_text=True)
        assert entra.authorize_requests[-1]["redirect_uri"] == "http://127.0.0.1:8000/console/auth/callback"
        [entry] = audit_rows(app, "sign_in")
        assert entry.operator_id == staff.id and json.loads(entry.detail) == {"method": "sso"}


@pytest.mark.filterwarnings(SSO_WARNING)
def test_sso_refuses_someone_without_an_operator_row_and_a_forged_answer(build):
    with FakeMicrosoft.running() as microsoft:
        entra = microsoft.entra
        app = _sso_app(build, entra)
        client = app.test_client()
        create_operator(app)
        entra.user = dict(entra.user, preferred_username="stranger@desk.example.jp")

        refused = _through_entra(client, entra)
        assert goes_to_login(refused)
        assert "権限がありません" in client.get("/console/login").get_data(as_text=True)
        assert goes_to_login(client.get("/console/"))
        [failure] = audit_rows(app, "sign_in_failed")
        assert failure.operator_id is None and failure.operator_email == "stranger@desk.example.jp"
        assert json.loads(failure.detail) == {"method": "sso", "reason": "unknown_operator"}

        # An answer whose state was not issued to this browser is refused before any token request.
        entra.user = dict(entra.user, preferred_username=ADMIN_EMAIL)
        client.get("/console/login/sso")
        forged = client.get("/console/auth/callback", query_string={"code": "stolen", "state": "forged"})
        assert goes_to_login(forged) and goes_to_login(client.get("/console/"))
        assert len(audit_rows(app, "sign_in_failed")) == 2
        assert not audit_rows(app, "sign_in")


def test_deactivating_an_operator_or_setting_a_new_password_from_the_cli_ends_their_session(app):
    staff = create_operator(app, "staff@desk.example.jp", "viewer", PASSWORD, "統計 閲覧")
    client = app.test_client()
    sign_in(client, "staff@desk.example.jp")
    assert client.get("/console/").status_code == 200
    runner = app.test_cli_runner()

    result = runner.invoke(args=["operator-password", "Staff@desk.example.jp", "--password", "a new long passphrase"])
    assert result.exit_code == 0, result.output
    assert goes_to_login(client.get("/console/"))
    assert sign_in(client, "staff@desk.example.jp").status_code == 401  # the old password is gone
    assert sign_in(client, "staff@desk.example.jp", "a new long passphrase").status_code in (302, 303)

    result = runner.invoke(args=["operator-active", "staff@desk.example.jp", "off"])
    assert result.exit_code == 0, result.output
    assert goes_to_login(client.get("/console/"))
    assert sign_in(client, "staff@desk.example.jp", "a new long passphrase").status_code == 401
    assert runner.invoke(args=["operator-active", "nobody@desk.example.jp", "off"]).exit_code != 0
    assert [r.action for r in audit_rows(app) if r.target == f"operator:{staff.id}"][-2:] == [
        "operator_password_set", "operator_deactivated"]


@pytest.mark.filterwarnings(SSO_WARNING)
def test_sso_binds_the_account_at_first_sign_in_and_then_ignores_the_address_claim(build):
    with FakeMicrosoft.running() as microsoft:
        entra = microsoft.entra
        app = _sso_app(build, entra)
        staff = create_operator(app, entra.user["preferred_username"], "viewer", None, "相談 担当")
        assert urlsplit(_through_entra(app.test_client(), entra).location).path == "/console/"
        with db(app).transaction() as session:
            bound = session.get(Operator, staff.id)
            assert (bound.entra_oid, bound.entra_tid) == (entra.user["oid"], entra.tenant)

        # Another account of the tenant that now carries the same address is not that operator.
        entra.user = dict(entra.user, oid="00000000-0000-0000-0000-0000000000b2")
        client = app.test_client()
        assert goes_to_login(_through_entra(client, entra))
        assert json.loads(audit_rows(app, "sign_in_failed")[-1].detail)["reason"] == "other_account"

        # The bound account still gets in after its address changes.
        entra.user = dict(entra.user, oid=bound.entra_oid, preferred_username="renamed@desk.example.jp")
        assert urlsplit(_through_entra(app.test_client(), entra).location).path == "/console/"


def test_a_tenant_given_by_name_is_refused_at_start(tmp_path):
    for name in ("common", "organizations", "desk.onmicrosoft.com"):
        with pytest.raises(RuntimeError, match="GUID"):
            Config.from_env({"CONSOLE_SSO_TENANT_ID": name, "CONSOLE_SSO_CLIENT_ID": "c",
                             "CONSOLE_SSO_CLIENT_SECRET": "s", "INSTANCE_PATH": str(tmp_path)})

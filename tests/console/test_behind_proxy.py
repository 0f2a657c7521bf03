"""The console behind a reverse proxy (nginx, a PaaS router): with PROXY_HOPS the audit log and the
sign-in throttle see each client's own address and the app knows it is served over HTTPS; without
it, a forwarded header is never believed."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests

from bot import create_app
from bot.config import SsoSettings
from tests.support.console import (
    ADMIN_EMAIL,
    PASSWORD,
    audit_rows,
    create_operator,
    sign_in,
)
from tests.support.fake_microsoft import FakeMicrosoft

PUBLIC = "https://desk.example.jp"


@pytest.fixture
def build(config, clock):
    apps = []

    def build(proxy_hops: int, **changes):
        app = create_app(config.but(proxy_hops=proxy_hops, public_base_url=PUBLIC, **changes), clock=clock)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["services"].close()


def through_proxy(app, client_address: str, referer: str = PUBLIC + "/console/login"):
    """A browser at `client_address` reaching the app through one TLS-terminating proxy (the test
    client's own address, 127.0.0.1, plays the proxy). The client slipped in a forged address of its
    own; the proxy appended the one it saw, as nginx's $proxy_add_x_forwarded_for does."""
    client = app.test_client()
    client.environ_base.update(
        HTTP_X_FORWARDED_FOR=f"10.6.6.6, {client_address}", HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="desk.example.jp", HTTP_REFERER=referer,
    )
    return client


def test_behind_one_proxy_the_audit_log_records_the_address_the_proxy_saw(build):
    app = build(proxy_hops=1)
    create_operator(app)
    assert sign_in(through_proxy(app, "203.0.113.9")).status_code == 302
    [entry] = audit_rows(app, "sign_in")
    assert entry.ip == "203.0.113.9"


def test_without_proxy_hops_a_forwarded_address_is_not_believed(build):
    app = build(proxy_hops=0)
    create_operator(app)
    assert sign_in(through_proxy(app, "203.0.113.9")).status_code == 302
    [entry] = audit_rows(app, "sign_in")
    assert entry.ip == "127.0.0.1"


def test_behind_one_proxy_the_throttle_locks_out_one_client_and_not_another(build, clock):
    app = build(proxy_hops=1)
    create_operator(app)
    guesser = through_proxy(app, "203.0.113.9")
    for _ in range(5):
        assert sign_in(guesser, ADMIN_EMAIL, "guess").status_code == 401
    assert sign_in(guesser, ADMIN_EMAIL, PASSWORD).status_code == 429
    # The real operator, elsewhere but behind the same proxy, still gets in (after the address's
    # one-second wait that five failures from anywhere impose).
    clock.advance(timedelta(seconds=1))
    assert sign_in(through_proxy(app, "198.51.100.7"), ADMIN_EMAIL, PASSWORD).status_code == 302
    refused = audit_rows(app, "sign_in_refused")
    assert [r.ip for r in refused] == ["203.0.113.9"]


def test_behind_a_tls_proxy_a_sign_in_posted_from_another_site_is_refused_and_the_cookie_is_secure(build):
    app = build(proxy_hops=1)
    create_operator(app)
    # Known to be HTTPS, the form post's Referer must name the public host, as Flask-WTF checks.
    assert sign_in(through_proxy(app, "203.0.113.9", referer="https://elsewhere.example/")).status_code == 400
    accepted = sign_in(through_proxy(app, "203.0.113.9"))
    assert accepted.status_code == 302 and urlsplit(accepted.location).path == "/console/"
    [cookie] = [c for c in accepted.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert "Secure" in cookie and "HttpOnly" in cookie


@pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning")
def test_behind_a_proxy_the_entra_redirect_uri_is_the_public_https_address(build):
    with FakeMicrosoft.running() as microsoft:
        entra = microsoft.entra
        app = build(1, console_sso=SsoSettings(entra.tenant, entra.client_id, entra.client_secret, entra.authority))
        create_operator(app, entra.user["preferred_username"], "viewer", None, "相談 担当")
        client = through_proxy(app, "203.0.113.9")
        client.environ_base["HTTP_X_FORWARDED_HOST"] = "attacker.example"  # a forwarded host is not used
        start = client.get("/console/login/sso")
        answer = requests.get(start.location, allow_redirects=False, timeout=5)
        back = urlsplit(answer.headers["Location"])
        assert f"{back.scheme}://{back.netloc}{back.path}" == PUBLIC + "/console/auth/callback"
        assert entra.authorize_requests[-1]["redirect_uri"] == PUBLIC + "/console/auth/callback"
        landed = client.get(back.path, query_string=back.query)
        assert landed.status_code == 302 and urlsplit(landed.location).path == "/console/"
        [entry] = audit_rows(app, "sign_in")
        assert json.loads(entry.detail) == {"method": "sso"} and entry.ip == "203.0.113.9"

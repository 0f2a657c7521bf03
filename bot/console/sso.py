"""Sign-in with Microsoft Entra ID (msal's authorization-code flow with PKCE), when configured.

Settings: CONSOLE_SSO_TENANT_ID, CONSOLE_SSO_CLIENT_ID, CONSOLE_SSO_CLIENT_SECRET and optionally
CONSOLE_SSO_AUTHORITY (default https://login.microsoftonline.com/<tenant>). The app registration's
redirect URI is PUBLIC_BASE_URL + /console/auth/callback.

Entra ID only proves who someone is: they get in only when an active operator row has their
preferred_username as its e-mail address (nobody registers themselves). The msal client is built for
one sign-in step and thrown away, so no tokens are kept anywhere; the flow (state, nonce, PKCE
verifier) waits in the signed session cookie between the two steps.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from typing import Any, Iterator
from urllib.parse import urlparse

import msal
import requests
from flask import abort, flash, redirect, request, session, url_for
from sqlalchemy import select

from models import Operator
from models.database import now_in

from bot.console.audit import SIGN_IN, SIGN_IN_FAILED, audit
from bot.console.auth import normalise_email, public, safe_next, start_session
from bot.console.identity import current_operator
from bot.console.blueprint import bp
from bot.config import SsoSettings
from bot.teams.graph_api import MICROSOFT_AUTHORITY_HOST
from bot.services import current_services

log = logging.getLogger(__name__)


# The answer comes back as a GET (response_mode=query), not the form_post msal recommends: a
# cross-site POST would arrive without our SameSite=Lax session cookie, and with it the flow.
# The code in the URL is single-use and worthless without our client secret and PKCE verifier,
# and the callback answers with a redirect, so no page of ours can leak it in a Referer.
warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended", category=UserWarning,
                        module=r"msal\.")
FLOW_KEY, NEXT_KEY = "console_sso_flow", "console_sso_next"
NOT_ALLOWED = "このアカウントにはコンソールを利用する権限がありません。管理者にお問い合わせください。"
FAILED = "Microsoft アカウントでのサインインを完了できませんでした。もう一度お試しください。"


@contextmanager
def msal_app(settings: SsoSettings) -> Iterator[msal.ConfidentialClientApplication]:
    host = urlparse(settings.authority_url).hostname
    app = msal.ConfidentialClientApplication(
        settings.client_id, client_credential=settings.client_secret, authority=settings.authority_url,
        timeout=(3.05, 10),
        # A sovereign cloud or a test fake is not in Microsoft's instance discovery.
        instance_discovery=False if host != MICROSOFT_AUTHORITY_HOST else None,
    )
    try:
        yield app
    finally:
        app.http_client.close()


def _settings() -> SsoSettings:
    settings = current_services().config.console_sso
    if settings is None:
        abort(404)
    return settings


def _operator_for(db_session, oid: str, tid: str, email: str) -> Operator | None:
    """The operator bound to this account; else the one with this address (bound at this first
    sign-in, if nothing else is bound to it). preferred_username is only a hint, never proof."""
    if oid and tid:
        bound = db_session.scalar(select(Operator).where(Operator.entra_oid == oid, Operator.entra_tid == tid))
        if bound is not None:
            return bound
    return db_session.scalar(select(Operator).where(Operator.email == email)) if email else None


def redirect_uri() -> str:
    return current_services().config.public_base_url + url_for("console.sso_callback")


@bp.get("/login/sso")
@public
def sso_start():
    settings = _settings()
    if current_operator() is not None:
        return redirect(url_for("console.dashboard"))
    try:
        with msal_app(settings) as app:
            flow = app.initiate_auth_code_flow([], redirect_uri=redirect_uri(), prompt="select_account",
                                              response_mode="query")
    except (requests.RequestException, ValueError) as e:
        log.warning("Entra ID unreachable for console sign-in: %s", type(e).__name__)
        flash(FAILED, "error")
        return redirect(url_for("console.login"))
    session[FLOW_KEY] = flow
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    return redirect(flow["auth_uri"])


@bp.get("/auth/callback")
@public
def sso_callback():
    settings = _settings()
    flow: dict[str, Any] | None = session.pop(FLOW_KEY, None)
    next_url = safe_next(session.pop(NEXT_KEY, None))
    if not flow:
        flash("サインインをはじめからやり直してください。", "error")
        return redirect(url_for("console.login"))
    try:
        with msal_app(settings) as app:
            result = app.acquire_token_by_auth_code_flow(flow, request.args.to_dict())
    except (requests.RequestException, ValueError, RuntimeError) as e:
        # ValueError: the state does not match (a forged or replayed answer); RuntimeError: the nonce.
        log.warning("console sign-in with Entra ID failed: %s", type(e).__name__)
        result = {"error": type(e).__name__}
    claims = result.get("id_token_claims") or {}
    if "error" in result or not claims:
        audit(SIGN_IN_FAILED, detail={"method": "sso", "reason": str(result.get("error") or "no_id_token")[:80]},
              operator=None)
        flash(FAILED, "error")
        return redirect(url_for("console.login"))
    email = normalise_email(str(claims.get("preferred_username") or ""))
    oid, tid = str(claims.get("oid") or ""), str(claims.get("tid") or "")
    with current_services().db.transaction() as db_session:
        operator = _operator_for(db_session, oid, tid, email)
        if not settings.own_tenant(tid):
            reason = "other_tenant"
        elif not oid:
            reason = "no_oid"
        elif operator is None:
            reason = "unknown_operator"
        elif operator.entra_oid not in (None, oid):
            reason = "other_account"  # the address now names another account than the one bound
        elif not operator.active:
            reason = "inactive"
        else:
            reason = None
            operator.entra_oid, operator.entra_tid = oid, tid
            operator.last_sign_in_at = now_in(db_session)
            audit(SIGN_IN, detail={"method": "sso"}, session=db_session, operator=operator)
        if reason is not None:
            audit(SIGN_IN_FAILED, detail={"method": "sso", "reason": reason}, session=db_session,
                  operator=None, email=email or None)
    if reason is not None:
        flash(NOT_ALLOWED, "error")
        return redirect(url_for("console.login"))
    start_session(operator)
    return redirect(next_url or url_for("console.dashboard"))

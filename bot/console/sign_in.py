"""Signing in to the console with a password, and signing out (Entra ID sign-in: sso.py)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from models import Operator

from bot.console import throttle
from bot.console.audit import SIGN_IN, SIGN_IN_FAILED, SIGN_IN_REFUSED, SIGN_OUT, audit
from bot.console.auth import (
    is_demo_password_on_a_live_desk,
    end_session,
    normalise_email,
    password_matches,
    public,
    rehash_if_needed,
    requires,
    safe_next,
    start_session,
)
from bot.console.identity import client_ip, current_operator
from bot.console.blueprint import bp
from bot.services import current_services

BAD_CREDENTIALS = "メールアドレスまたはパスワードが正しくありません。"
THROTTLED = "サインインの失敗が続いたため、しばらく受け付けを停止しています。時間をおいてから、もう一度お試しください。"
LOCKED = "サインインの失敗が続いたため、このアカウントはロックされています。管理者に解除を依頼してください。"


def login_page(status: int = 200, email: str = "", next_url: str | None = None):
    return render_template("console/login.html", email=email, next_url=next_url,
                           sso_enabled=current_services().config.console_sso is not None), status


@bp.get("/login")
@public
def login():
    next_url = safe_next(request.args.get("next"))
    if current_operator() is not None:
        return redirect(next_url or url_for("console.dashboard"))
    return login_page(next_url=next_url)


@bp.post("/login")
@public
def login_submit():
    email = normalise_email(request.form.get("email", ""))
    password = request.form.get("password", "")
    next_url = safe_next(request.form.get("next"))
    ip, now = client_ip(), current_services().clock()
    db = current_services().db
    with db.transaction() as session:
        refused, attempt_id = throttle.begin(session, email, ip, now)
        if refused:
            audit(SIGN_IN_REFUSED, detail={"method": "password", "reason": refused}, session=session,
                  operator=None, email=email)
        found = session.scalar(select(Operator).where(Operator.email == email)) if email and not refused else None
    if refused:
        flash(LOCKED if refused == throttle.LOCKED else THROTTLED, "error")
        return login_page(429, email=email, next_url=next_url)
    # Hashing takes a while: outside any transaction (on SQLite each one holds the write lock).
    matches = password_matches(found, password)
    with db.transaction() as session:
        operator = session.get(Operator, found.id) if found is not None else None
        demo = matches and is_demo_password_on_a_live_desk(password)
        accepted = matches and operator is not None and operator.active and not demo
        throttle.settle(session, attempt_id, accepted)
        if accepted:
            rehash_if_needed(operator, password)
            operator.last_sign_in_at = now
            audit(SIGN_IN, detail={"method": "password"}, session=session, operator=operator)
        else:
            reason = ("unknown_email" if operator is None else "demo_password" if demo
                      else "inactive" if matches else "wrong_password")
            audit(SIGN_IN_FAILED, detail={"method": "password", "reason": reason}, session=session,
                  operator=None, email=email)
    if not accepted:
        flash(BAD_CREDENTIALS, "error")
        return login_page(401, email=email, next_url=next_url)
    start_session(operator)
    return redirect(next_url or url_for("console.dashboard"))


@bp.post("/logout")
@requires()
def logout():
    audit(SIGN_OUT)
    operator_id = current_operator().id
    with current_services().db.transaction() as session:
        # Every copy of this session's cookie stops working, not only the browser's own.
        session.get(Operator, operator_id).session_version += 1
    end_session(operator_id)  # and the operator is no longer available for chat
    flash("サインアウトしました。", "info")
    return redirect(url_for("console.login"))

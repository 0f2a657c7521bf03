"""Logins (admins only): who may sign in to the console, with which role; add one, change its
role, give it a new password, deactivate it, lift a sign-in lock. The rules live in
`handlers/operators.py`; every change is audited in its transaction."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.console.audit import audit
from bot.console.auth import ROLE_LABELS, hash_password, requires
from bot.console.blueprint import bp, get_or_404
from bot.console.identity import current_operator
from bot.services import current_services
from handlers import operators as rules
from models import Counsellor, Operator


AUDITED = {"activate": "operator_activated", "deactivate": "operator_deactivated", "password": "operator_password_set",
           "role": "operator_role_set", "unlock": "operator_unlocked"}


def _page(status: int = 200, **form: str):
    with current_services().db.transaction() as session:
        logins = list(session.scalars(select(Operator).order_by(Operator.active.desc(), Operator.id)))
        counsellors = {c.id: c.name for c in session.scalars(select(Counsellor).order_by(Counsellor.id))}
        audit("operators_viewed", "operators", session=session)
    return render_template("console/operators.html", logins=logins, counsellors=counsellors, form=form,
                           role_labels=ROLE_LABELS,
                           min_password=rules.MIN_PASSWORD), status


@bp.get("/operators")
@requires("admin")
def operators():
    return _page()


@bp.post("/operators")
@requires("admin")
def operator_add():
    form = {k: request.form.get(k, "") for k in ("email", "name", "role", "counsellor_id")}
    password = request.form.get("password", "")
    try:
        with current_services().db.transaction() as session:
            new = rules.check_new(session, form["email"], form["name"], form["role"], form["counsellor_id"], password)
            login = Operator(email=new.email, name=new.name, role=new.role, counsellor_id=new.counsellor_id,
                             password_hash=hash_password(new.password) if new.password else None)
            session.add(login)
            session.flush()
            audit("operator_created", f"operator:{login.id}", {"role": new.role, "via": "console"}, session=session)
    except rules.OperatorError as e:
        flash(str(e), "error")
        return _page(422, **form)
    flash(f"{new.name} さんのログインを追加しました。", "info")
    return redirect(url_for("console.operators"), 303)


@bp.post("/operators/<int:operator_id>/<action>")
@requires("admin")
def operator_change(operator_id: int, action: str):
    if action not in AUDITED:
        abort(404)
    try:
        with current_services().db.transaction() as session:
            login = get_or_404(session, Operator, operator_id)
            if action in ("deactivate", "role") and login.id == current_operator().id:
                raise rules.OperatorError("ご自身のログインの無効化や役割の変更はできません。")
            if action in ("activate", "deactivate"):
                rules.set_active(login, action == "activate")
            elif action == "password":
                login.password_hash = hash_password(rules.check_password(request.form.get("password", "")))
                rules.end_sessions(login)
            elif action == "role":
                rules.set_role(session, login, request.form.get("role", ""), request.form.get("counsellor_id", ""))
            else:
                rules.unlock(session, login)
            audit(AUDITED[action], f"operator:{login.id}", {"via": "console", "role": login.role}, session=session)
    except rules.OperatorError as e:
        flash(str(e), "error")
        return _page(422)
    flash("ログインを更新しました。", "info")
    return redirect(url_for("console.operators"), 303)

"""Who is signed in to the console, and what they may do.

A console session lives in Flask's signed session cookie: the operator's id, their session_version
and the time of their last request. Every console request reloads the operator, so deactivating
them or giving them a new password (both bump session_version) ends their sessions at once, and a
session idle for longer than CONSOLE_IDLE_MINUTES ends at the next request.

Local passwords are argon2id hashes (argon2-cffi's defaults, rehashed when those change).
"""

from __future__ import annotations

from functools import wraps
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, flash, g, redirect, request, session, url_for

from handlers.chats import leave_desk
from models import Operator
from models.operator import ADMIN, COUNSELLOR, VIEWER
from bot.services import current_services
from bot.console.audit import audit
from bot.console.identity import current_operator

SESSION_OPERATOR, SESSION_VERSION, SESSION_SEEN = "console_operator", "console_version", "console_seen"
SESSION_STARTED = "console_started"
ROLE_LABELS = {ADMIN: "管理者", COUNSELLOR: "相談員", VIEWER: "閲覧者"}
MAX_PASSWORD = 1024  # longer input is refused before hashing


# -- passwords -----------------------------------------------------------------------------------

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def is_demo_password_on_a_live_desk(password: str) -> bool:
    """The demo password is published in the README: it opens nothing once a LINE channel is set."""
    from bot.demo import DEMO_PASSWORD

    return not current_services().config.simulator and password == DEMO_PASSWORD


def password_matches(operator: Operator | None, password: str) -> bool:
    """Always spends one hash verification, so an unknown address answers as slowly as a known one."""
    global _dummy_hash
    stored = operator.password_hash if operator is not None else None
    if stored is None or not password or len(password) > MAX_PASSWORD:
        _dummy_hash = _dummy_hash or _hasher.hash("no password here")
        _verify(_dummy_hash, password[:MAX_PASSWORD])
        return False
    return _verify(stored, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def rehash_if_needed(operator: Operator, password: str) -> None:
    if operator.password_hash and _hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = _hasher.hash(password)


def normalise_email(value: str) -> str:
    return value.strip().lower()[:254]


# -- the session ---------------------------------------------------------------------------------

def _now() -> float:
    return current_services().clock().timestamp()


def start_session(operator: Operator) -> None:
    """A fresh session (no carried-over keys or CSRF token) for a signed-in operator."""
    session.clear()
    session[SESSION_OPERATOR] = operator.id
    session[SESSION_VERSION] = operator.session_version
    session[SESSION_SEEN] = session[SESSION_STARTED] = int(_now())
    g.console_operator = operator


def end_session(operator_id: int | None = None) -> None:
    """End this browser's session; `operator_id`: also take that operator off the chat desk (a
    session that ended leaves nobody to answer the chats it would have taken)."""
    session.clear()
    g.console_operator = None
    if operator_id is not None:
        with current_services().db.transaction() as db_session:
            leave_desk(db_session, operator_id)


def load_operator(*, polling: bool = False) -> Operator | None:
    """The operator of this request's session, or None; ends a revoked, idle or expired session.
    `polling`: the request is a page's own refresh, which does not count as activity."""
    operator_id = session.get(SESSION_OPERATOR)
    if operator_id is None:
        return None
    with current_services().db.transaction() as db_session:
        operator = db_session.get(Operator, operator_id)
    if operator is None or not operator.active or operator.session_version != session.get(SESSION_VERSION):
        end_session(operator_id)
        audit("session_revoked", operator=operator)
        flash("サインインの有効期限が切れました。もう一度サインインしてください。", "info")
        return None
    now, config = int(_now()), current_services().config
    if now - int(session.get(SESSION_STARTED) or 0) > config.console_session_hours * 3600:
        end_session(operator.id)
        audit("sign_out_expired", operator=operator)
        flash("サインインから一定時間が経ったため、サインアウトしました。もう一度サインインしてください。", "info")
        return None
    if now - int(session.get(SESSION_SEEN) or 0) > config.console_idle_minutes * 60:
        end_session(operator.id)
        audit("sign_out_idle", operator=operator)
        flash("一定時間操作がなかったため、サインアウトしました。", "info")
        return None
    if not polling:  # a page refreshing itself is not the operator at work
        session[SESSION_SEEN] = now
    return operator


# -- access rules --------------------------------------------------------------------------------

def requires(*roles: str) -> Callable:
    """Allow a console view to signed-in operators with one of these roles (any role when none given).

    Anonymous visitors go to the sign-in page; an operator without the role gets 403.
    """
    unknown = set(roles) - set(ROLE_LABELS)
    if unknown:
        raise ValueError(f"unknown console roles: {sorted(unknown)}")

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            operator = current_operator()
            if operator is None:
                target = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("console.login", next=target))
            if roles and operator.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        guarded.console_roles = roles  # type: ignore[attr-defined]
        return guarded

    return decorate


def polled(view: Callable) -> Callable:
    """Mark a view that pages call on their own (live refresh): it never extends an idle session."""
    view.console_polled = True  # type: ignore[attr-defined]
    return view


def public(view: Callable) -> Callable:
    """Mark a console view as open to anonymous visitors (the sign-in pages only)."""
    view.console_public = True  # type: ignore[attr-defined]
    return view


def safe_next(value: str | None) -> str | None:
    """A console path to return to after signing in; anything else (another site) is dropped."""
    if not value or not value.startswith("/console/") or value.startswith("//") or "\\" in value:
        return None
    return value

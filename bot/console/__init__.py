"""The operator console (/console): sign-in (Entra ID or a local password), roles, CSRF protection,
throttling, idle sign-out and the audit log. Pages add views to `bp` with `@requires(...)` and call
`audit(...)` for every view of personal data and every change.
"""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

# Each module adds its pages to bp.
from bot.console import (  # noqa: F401
    audit_log,
    bookings,
    chats,
    conversations,
    counsellors,
    dashboard,
    faq,
    operators,
    policies,
    quota,
    settings,
    sign_in,
    sso,
    statistics,
    users,
)
from bot.console.audit import audit
from bot.console.auth import public, requires
from bot.console.identity import current_operator
from bot.console.blueprint import bp
from bot.console.cli import create_operator, operator_active, operator_password, operator_unlock

__all__ = ["audit", "bp", "current_operator", "init_console", "public", "requires"]

# Blueprints whose POSTs are machine-to-machine (signed LINE webhooks, the simulator's JSON API).
CSRF_EXEMPT_BLUEPRINTS = ("simulator",)  # LINE's webhook is answered before Flask (bot/line/webhook.py)


def init_console(app: Flask) -> None:
    """Call once at the end of create_app, after every other blueprint is registered."""
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf") or CSRFProtect(app)
    for name in CSRF_EXEMPT_BLUEPRINTS:
        if name in app.blueprints:
            csrf.exempt(app.blueprints[name])
    for command in (create_operator, operator_active, operator_password, operator_unlock):
        app.cli.add_command(command)

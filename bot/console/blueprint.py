"""The console blueprint and what every console request goes through.

Fail closed: a console view must be marked `@requires(...)` or `@public`, or it answers 403. Every
response is `no-store` and may not be framed.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError

from bot.console.formatting import template_helpers
from bot.console.auth import ROLE_LABELS, load_operator
from bot.console.identity import current_operator
from bot.services import current_services

log = logging.getLogger(__name__)

bp = Blueprint("console", __name__, url_prefix="/console")

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: Flask-WTF checks the Referer of every HTTPS form post.
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
                               "base-uri 'none'; object-src 'none'",
}


@bp.before_request
def _authenticate():
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return None
    if not getattr(view, "console_public", False) and getattr(view, "console_roles", None) is None:
        log.error("console view %s has neither @requires nor @public: refused", request.endpoint)
        return render_error(403)
    g.console_operator = load_operator(polling=getattr(view, "console_polled", False))
    return None


def get_or_404(session, model, key):
    """The row, or the console's 404 page when there is none."""
    found = session.get(model, key)
    if found is None:
        abort(404)
    return found


@bp.context_processor
def _formatting():
    return template_helpers()


@bp.after_request
def _headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


# The console's menu, in order: (endpoint, label, roles that see it). An entry shows only when its
# page exists and the signed-in operator's role may open it.
NAVIGATION = (
    ("console.dashboard", "ホーム", ("admin", "counsellor", "viewer")),
    ("console.conversations", "会話", ("admin", "counsellor")),
    ("console.chats", "チャット相談", ("admin", "counsellor")),
    ("console.bookings", "予約", ("admin", "counsellor")),
    ("console.counsellors", "相談員", ("admin",)),
    ("console.policies", "利用規約", ("admin",)),
    ("console.faq", "よくある質問", ("admin",)),
    ("console.users", "利用者", ("admin",)),
    ("console.statistics", "統計", ("admin", "viewer")),
    ("console.operators", "ログイン", ("admin",)),
    ("console.audit_log", "操作記録", ("admin",)),
    ("console.quota_page", "LINE通数", ("admin",)),
    ("console.settings", "設定", ("admin",)),
)


def navigation() -> list[tuple[str, str]]:
    operator = current_operator()
    if operator is None:
        return []
    return [(endpoint, label) for endpoint, label, roles in NAVIGATION
            if operator.role in roles and endpoint in current_app.view_functions]


@bp.context_processor
def _layout():
    return {
        "navigation": navigation(),
        "operator": current_operator(),
        "desk_name": current_services().desk_settings.desk_name,
        "role_label": lambda role: ROLE_LABELS.get(role, role),
    }


ERRORS = {
    400: ("操作を受け付けられませんでした", "画面の有効期限が切れた可能性があります。お手数ですが、もう一度操作してください。"),
    401: ("サインインが必要です", "サインインしてから、もう一度操作してください。"),
    403: ("このページは表示できません", "この操作を行う権限がありません。必要な場合は管理者にお問い合わせください。"),
    404: ("ページが見つかりません", "アドレスをご確認ください。"),
}


def render_error(status: int):
    title, message = ERRORS.get(status, ERRORS[400])
    return render_template("console/error.html", title=title, message=message), status


@bp.errorhandler(CSRFError)
def _csrf_error(error):
    log.info("console form refused: %s", error.description)
    return render_error(400)


@bp.errorhandler(401)
@bp.errorhandler(403)
@bp.errorhandler(404)
def _http_error(error):
    return render_error(error.code)

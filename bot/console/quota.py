"""LINE通数: this month's message quota (what LINE reports, cached; handlers/quota.py), what the desk's
own pushes were spent on, and, once the quota ran out, the users a push could not reach, for a call.

The figures are shown on ホーム and 設定 too (`quota_panel`). The list of users is for admins only and
every view of it is audited; it holds no name or phone number, only links to the user's page and
their bookings' pages, which show the contact details under their own access rules.
"""

from __future__ import annotations

from typing import Any

from flask import render_template

from handlers import quota
from models.outbound_message import ANSWER, JOIN_LINK, NOTICE, OPERATOR, REMINDER

from bot.console.audit import audit
from bot.console.auth import requires
from bot.console.blueprint import bp
from bot.console.formatting import moment_label
from bot.services import current_services

KIND_LABELS = {JOIN_LINK: "参加用リンク", REMINDER: "リマインダー", OPERATOR: "相談員のメッセージ",
               ANSWER: "自動応答（返信期限切れ）", NOTICE: "お知らせ"}


def quota_panel() -> dict[str, Any]:
    """The month's quota and the desk's own sends by kind, for a page's quota section (no personal data)."""
    services = current_services()
    view = quota.refresh(services)  # from the cache while fresh: LINE is asked at most once per period
    with services.db.transaction() as session:
        sent = quota.sent_this_month(session, services.clock())
    return {"quota": view, "quota_read": moment_label(view.read_at), "quota_failed": moment_label(view.failed_at),
            "pushes": [(KIND_LABELS[k], n) for k, n in sent["push"].items()],
            "pushes_total": sum(sent["push"].values()), "replies_total": sum(sent["reply"].values())}


@bp.get("/quota")
@requires("admin")
def quota_page():
    services = current_services()
    panel = quota_panel()
    with services.db.transaction() as session:
        unreached = quota.unreached_this_month(session, services.clock())
        audit("view_quota_unreached", "line_quota", {"month": panel["quota"].month, "shown": len(unreached)},
              session=session)
    rows = [{"user_id": u.user_id, "kinds": "・".join(KIND_LABELS.get(k, k) for k in u.kinds),
             "last": moment_label(u.last_at), "bookings": u.bookings} for u in unreached]
    return render_template("console/quota.html", unreached=rows, **panel)

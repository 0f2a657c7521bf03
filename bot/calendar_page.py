"""/calendar/<token>.ics: the 予定に追加 file of a booking (handlers/calendar_links.py)."""

from __future__ import annotations

from flask import Blueprint, Response, abort

from handlers import calendar_links
from bot.services import current_services

bp = Blueprint("calendar", __name__, url_prefix=calendar_links.PATH)


@bp.get("/<token>.ics")
def ics(token: str):
    services = current_services()
    now = services.clock()
    with services.db.transaction() as session:
        booking = calendar_links.find(session, token, services.config.secret_key, now)
        if booking is None:
            abort(404)
        body = calendar_links.ics(booking, services.desk_settings.desk_name, now)
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": 'attachment; filename="consultation.ics"',
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

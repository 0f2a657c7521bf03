"""/meeting/<id>: where the local meeting provider's join links lead, saying plainly it is simulated."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from conversations.schedule import label_slot
from models import LocalMeeting
from bot.services import current_services

bp = Blueprint("meeting", __name__, url_prefix="/meeting")


@bp.get("/<meeting_id>")
def show(meeting_id: str):
    with current_services().db.transaction() as session:
        meeting = session.get(LocalMeeting, meeting_id)
        if meeting is None:
            abort(404)
        when = label_slot(meeting.starts_at, current_services().desk_settings.rules)
        cancelled = meeting.cancelled_at is not None
    return render_template("meeting.html", when=when, cancelled=cancelled)

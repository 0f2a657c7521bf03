"""Bookings: list, week calendar, a booking's detail, and the operator's actions on it.

Every query goes through `bookings_visible_to(operator)`: an admin sees every booking, a counsellor
only their own (another's answers 404, as if it did not exist). The list and the calendar show no
user's details; the detail page does, and each view of it is audited. The actions themselves are
plain functions (`handlers/bookings.py`, `handlers/attendance.py`) shared with the command line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversations.flows.booking_attendant import label as attendant_label
from conversations.schedule import TOKYO, BookingRules, is_open_day
from models import Booking, Counsellor, LineUser, Operator
from models.booking import (
    ATTENDED,
    CANCELLED,
    CONFIRMED,
    HELD,
    NO_SHOW,
    TEAMS_FAILED,
)
from models.operator import ADMIN

from handlers import bookings as booking_actions
from handlers.attendance import AttendanceError, mark
from bot.console.audit import audit
from bot.console.auth import requires
from bot.console.identity import current_operator
from bot.console.blueprint import bp
from bot.console.formatting import STATUS_LABELS, moment_label
from bot.console.scope import bookings_visible_to
from bot.services import current_services

PER_PAGE = 50

CANCELLED_BY_LABELS = {"operator": "窓口", "user": "ご本人", "user_phone": "ご本人（電話で窓口へ）",
                       "user_in_person": "ご本人（来所して窓口へ）"}
# The list shows real bookings unless a status is chosen: abandoned holds are noise there.
DEFAULT_STATUSES = (CONFIRMED, ATTENDED, NO_SHOW, CANCELLED)
# The calendar shows what occupies or occupied a slot.
CALENDAR_STATUSES = (HELD, CONFIRMED, ATTENDED, NO_SHOW, CANCELLED)
ATTENDANCE_OUTCOMES = {"attended": True, "no_show": False}


@dataclass(frozen=True)
class Row:
    """A booking as the list, the calendar and the dashboard show it: no user's details."""

    reference: str
    starts_at: datetime
    topic: str
    counsellor: str
    status: str
    teams_status: str

    @property
    def local(self) -> datetime:
        return self.starts_at.astimezone(TOKYO)




def today() -> date:
    return current_services().clock().astimezone(TOKYO).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), TOKYO)


def rows_query(operator: Operator):
    return (select(Booking.reference, Booking.starts_at, Booking.topic, Counsellor.name, Booking.status,
                   Booking.teams_status)
            .join(Counsellor, Counsellor.id == Booking.counsellor_id)
            .where(bookings_visible_to(operator)))


def to_rows(result) -> list[Row]:
    return [Row(*r) for r in result]


def label_when(moment: datetime, minutes: int) -> str:
    start = moment.astimezone(TOKYO)
    return f"{moment_label(start)}〜{start + timedelta(minutes=minutes):%H:%M}"


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def view_url(endpoint: str, fallback: str, **values: Any) -> str:
    """A link to another area's page; that page may not exist yet while the console is built."""
    if endpoint in current_app.view_functions:
        return url_for(endpoint, **values)
    return fallback


# -- the list ------------------------------------------------------------------------------------

@bp.get("/bookings")
@requires("admin", "counsellor")
def bookings():
    operator = current_operator()
    args = request.args
    status = args.get("status", "")
    if status not in STATUS_LABELS:
        status = ""
    topic = args.get("topic", "").strip()
    counsellor_id = args.get("counsellor", type=int) if operator.role == ADMIN else None
    bad_date = any(args.get(k) and _parse_date(args.get(k)) is None for k in ("from", "to"))
    date_from = _parse_date(args.get("from")) if "from" in args else today()
    date_to = _parse_date(args.get("to"))
    page = max(1, args.get("page", 1, type=int) or 1)

    query = rows_query(operator)
    query = query.where(Booking.status == status) if status else query.where(Booking.status.in_(DEFAULT_STATUSES))
    if topic:
        query = query.where(Booking.topic == topic)
    if counsellor_id:
        query = query.where(Booking.counsellor_id == counsellor_id)
    if date_from:
        query = query.where(Booking.starts_at >= day_start(date_from))
    if date_to:
        query = query.where(Booking.starts_at < day_start(date_to + timedelta(days=1)))
    with current_services().db.transaction() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        pages = max(1, math.ceil(total / PER_PAGE))
        page = min(page, pages)
        rows = to_rows(session.execute(query.order_by(Booking.starts_at, Booking.id)
                                       .offset((page - 1) * PER_PAGE).limit(PER_PAGE)))
        counsellors = (session.execute(select(Counsellor.id, Counsellor.name).order_by(Counsellor.id)).all()
                       if operator.role == ADMIN else [])
        topics = sorted(set(current_services().desk_settings.topics)
                        | set(session.scalars(select(Booking.topic).where(bookings_visible_to(operator)).distinct())))
    if bad_date:
        flash("日付は 2026-12-01 の形式で指定してください。指定のない条件で表示しています。", "error")
    filters = {"status": status, "topic": topic, "counsellor": counsellor_id or "",
               "from": date_from.isoformat() if date_from else "", "to": date_to.isoformat() if date_to else ""}
    return render_template("console/bookings.html", rows=rows, total=total, page=page, pages=pages,
                           filters=filters, counsellors=counsellors, topics=topics, statuses=STATUS_LABELS,
                           minutes=current_services().desk_settings.rules.session_minutes)


# -- the week calendar ---------------------------------------------------------------------------

def grid_times(rules: BookingRules) -> list[time]:
    """The desk's 30-minute slot starts, from its opening windows."""
    step = timedelta(minutes=rules.session_minutes)
    times: list[time] = []
    for opens, closes in rules.windows:
        start, end = datetime.combine(date.min, opens), datetime.combine(date.min, closes)
        while start + step <= end:
            times.append(start.time())
            start += step
    return times


@bp.get("/bookings/week")
@requires("admin", "counsellor")
def bookings_week():
    operator = current_operator()
    rules = current_services().desk_settings.rules
    chosen = _parse_date(request.args.get("week"))
    if request.args.get("week") and chosen is None:
        flash("週は 2026-12-01 の形式で指定してください。今週を表示しています。", "error")
    chosen = chosen or today()
    monday = chosen - timedelta(days=chosen.weekday())
    days = [monday + timedelta(days=i) for i in range(5)]
    with current_services().db.transaction() as session:
        rows = to_rows(session.execute(
            rows_query(operator)
            .where(Booking.status.in_(CALENDAR_STATUSES), Booking.starts_at >= day_start(monday),
                   Booking.starts_at < day_start(monday + timedelta(days=5)))
            .order_by(Booking.starts_at, Booking.id)))
    cells: dict[tuple[date, time], list[Row]] = {}
    for row in rows:
        local = row.local
        cells.setdefault((local.date(), local.time().replace(second=0, microsecond=0)), []).append(row)
    # A booking off the grid (the windows changed since it was made) still gets a row of its own.
    times = sorted(set(grid_times(rules)) | {t for _, t in cells})
    return render_template("console/bookings_week.html", days=days, times=times, cells=cells,
                           open_days={d: is_open_day(d, rules) for d in days}, monday=monday,
                           previous=monday - timedelta(days=7), following=monday + timedelta(days=7),
                           this_week=today() - timedelta(days=today().weekday()))


# -- one booking ---------------------------------------------------------------------------------

def visible_booking(session: Session, reference: str) -> Booking:
    """The booking, if this operator may see it; 404 otherwise (a counsellor cannot tell another's exists)."""
    booking = session.scalar(select(Booking).where(Booking.reference == reference,
                                                   bookings_visible_to(current_operator())))
    if booking is None:
        abort(404)
    return booking


@bp.get("/bookings/<reference>")
@requires("admin", "counsellor")
def booking(reference: str):
    operator = current_operator()
    config = current_services().config
    with current_services().db.transaction() as session:
        found = visible_booking(session, reference)
        counsellor = session.get(Counsellor, found.counsellor_id)
        user = session.get(LineUser, found.user_id)
        audit("view_booking", f"booking:{found.reference}", session=session)
    is_admin = operator.role == ADMIN
    return render_template(
        "console/booking.html", booking=found, counsellor=counsellor, user=user,
        when=label_when(found.starts_at, current_services().desk_settings.rules.session_minutes),
        conversation_url=view_url("console.conversation", f"/console/conversations/{found.user_id}",
                                   user_id=found.user_id),
        teams_configured=config.graph is not None,
        join_url=found.join_url if (found.join_url or "").startswith(("https://", "http://")) else None,
        can_cancel=is_admin and found.status == CONFIRMED,
        can_retry=is_admin and found.teams_status == TEAMS_FAILED and found.status == CONFIRMED,
        can_mark=found.status in (CONFIRMED, ATTENDED, NO_SHOW),
        reason_limit=booking_actions.REASON_LIMIT,
        cancelled_by_label=CANCELLED_BY_LABELS.get(found.cancelled_by or "", found.cancelled_by),
        attendant_label=attendant_label(found.attendant) if found.name or found.attendant else "—",
        )


def _back(reference: str):
    return redirect(url_for("console.booking", reference=reference))


@bp.post("/bookings/<reference>/cancel")
@requires("admin")
def booking_cancel(reference: str):
    reason = request.form.get("reason", "")
    db = current_services().db
    try:
        with db.transaction() as session:
            visible_booking(session, reference)
            found = booking_actions.cancel_for_desk(session, current_services(), reference, reason,
                                                    current_services().clock(), request.form.get("asked_by", ""))
            audit("cancel_booking", f"booking:{found.reference}",
                  {"reason": found.cancel_reason, "cancelled_by": found.cancelled_by}, session=session)
    except booking_actions.BookingActionError as e:
        flash(e.message_ja, "error")
        return _back(reference)
    flash("予約をキャンセルしました。Teams の招待を取り下げ、ご本人に LINE でお知らせします。", "info")
    return _back(reference)


@bp.post("/bookings/<reference>/retry-handoff")
@requires("admin")
def booking_retry_handoff(reference: str):
    try:
        with current_services().db.transaction() as session:
            visible_booking(session, reference)
            booking_actions.retry_handoff(session, reference)
            audit("retry_handoff", f"booking:{reference}", session=session)
    except booking_actions.BookingActionError as e:
        flash(e.message_ja, "error")
        return _back(reference)
    flash("Teams 連携をもう一度実行します。参加用リンクができしだい、ご本人に LINE でお送りします。", "info")
    return _back(reference)


@bp.post("/bookings/<reference>/attendance")
@requires("admin", "counsellor")
def booking_attendance(reference: str):
    outcome = request.form.get("outcome", "")
    try:
        with current_services().db.transaction() as session:
            visible_booking(session, reference)  # a counsellor marks only their own sessions
            if outcome not in ATTENDANCE_OUTCOMES:
                abort(400)
            found = mark(session, current_services(), reference, ATTENDANCE_OUTCOMES[outcome], current_services().clock())
            audit("mark_attendance", f"booking:{found.reference}", {"outcome": outcome}, session=session)
    except AttendanceError as e:
        flash(booking_actions.attendance_message_ja(e, current_services().config.no_show_after_minutes), "error")
        return _back(reference)
    flash("「参加」を記録しました。" if outcome == "attended" else "「不参加」を記録しました。", "info")
    return _back(reference)

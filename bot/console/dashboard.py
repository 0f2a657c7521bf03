"""The console's home page: today's and upcoming sessions, failed handoffs, alerts and counts."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import func, select

from models import Booking, LineUser, Operator, OperatorAlert
from models.database import now_in
from models.booking import ATTENDED, CONFIRMED, NO_SHOW, TEAMS_FAILED
from models.operator import ADMIN, VIEWER

from handlers import maintenance
from bot.console.audit import audit
from bot.console.auth import requires
from bot.console.identity import current_operator
from bot.console.blueprint import bp
from bot.console.bookings import rows_query, to_rows, view_url
from bot.console.quota import quota_panel
from bot.console.scope import users_visible_to
from bot.services import current_services

TOKYO = ZoneInfo("Asia/Tokyo")
# The dashboard: upcoming sessions this many days ahead, at most this many; open alerts shown.
UPCOMING_DAYS, UPCOMING_LIMIT, ALERT_LIMIT = 14, 20, 50


@bp.get("/")
@requires()
def dashboard():
    operator = current_operator()
    if operator.role == VIEWER:
        # Statistics only: no bookings, no alerts, nothing about a person.
        return render_template("console/dashboard.html", viewer=True,
                               statistics_url=view_url("console.statistics", "/console/statistics"))
    return render_template("console/dashboard.html", viewer=False, **dashboard_data(operator))


def dashboard_data(operator: Operator) -> dict[str, Any]:
    """Sessions (no user names), failed handoffs, open alerts, flagged conversations, service status;
    a counsellor's lists hold only their own bookings and users."""
    services = current_services()
    today = services.clock().astimezone(TOKYO).date()
    start = datetime.combine(today, time(0), TOKYO)
    is_admin = operator.role == ADMIN
    with current_services().db.transaction() as session:
        today_rows = to_rows(session.execute(
            rows_query(operator)
            .where(Booking.starts_at >= start, Booking.starts_at < start + timedelta(days=1),
                   Booking.status.in_((CONFIRMED, ATTENDED, NO_SHOW)))
            .order_by(Booking.starts_at, Booking.id)))
        upcoming_rows = to_rows(session.execute(
            rows_query(operator)
            .where(Booking.starts_at >= start + timedelta(days=1),
                   Booking.starts_at < start + timedelta(days=1 + UPCOMING_DAYS), Booking.status == CONFIRMED)
            .order_by(Booking.starts_at, Booking.id).limit(UPCOMING_LIMIT)))
        failed_rows = to_rows(session.execute(
            rows_query(operator).where(Booking.teams_status == TEAMS_FAILED).order_by(Booking.starts_at, Booking.id)))
        alerts = (session.execute(
            select(OperatorAlert.id, OperatorAlert.kind, OperatorAlert.message, OperatorAlert.created_at,
                   Booking.reference)
            .outerjoin(Booking, Booking.id == OperatorAlert.booking_id)
            .where(OperatorAlert.resolved_at.is_(None))
            .order_by(OperatorAlert.id.desc()).limit(ALERT_LIMIT)).all() if is_admin else [])
        flagged = session.scalar(
            select(func.count()).select_from(LineUser)
            .where(LineUser.flagged_at.is_not(None), LineUser.erased_at.is_(None), users_visible_to(operator))) or 0
        maintenance_mode = maintenance.read(session)
    return {
        "counts": admin_counts() if is_admin else None,
        "today_rows": today_rows, "upcoming_rows": upcoming_rows, "failed_rows": failed_rows,
        "alerts": alerts, "flagged": flagged, "maintenance": maintenance_mode, "upcoming_days": UPCOMING_DAYS,
        "simulator": services.config.simulator, "teams_configured": services.config.graph is not None,
        "flagged_url": view_url("console.conversations", "/console/conversations?flagged=1", flagged=1),
        **(quota_panel() if is_admin else {}),
    }


def admin_counts() -> dict[str, int]:
    """Counts only, no personal data: today's sessions, open alerts, failed Teams handoffs."""
    today = current_services().clock().astimezone(TOKYO).date()
    start = datetime.combine(today, time(0), TOKYO)
    with current_services().db.transaction() as session:
        bookings_today = session.scalar(
            select(func.count()).select_from(Booking)
            .where(Booking.starts_at >= start, Booking.starts_at < start + timedelta(days=1),
                   Booking.status.in_((CONFIRMED, ATTENDED, NO_SHOW))))
        open_alerts = session.scalar(
            select(func.count()).select_from(OperatorAlert).where(OperatorAlert.resolved_at.is_(None)))
        failed_handoffs = session.scalar(
            select(func.count()).select_from(Booking).where(Booking.teams_status == TEAMS_FAILED))
    return {"bookings_today": bookings_today or 0, "open_alerts": open_alerts or 0,
            "failed_handoffs": failed_handoffs or 0}


@bp.post("/alerts/<int:alert_id>/resolve")
@requires("admin")
def alert_resolve(alert_id: int):
    with current_services().db.transaction() as session:
        alert = session.get(OperatorAlert, alert_id)
        if alert is None:
            abort(404)
        if alert.resolved_at is None:
            alert.resolved_at = now_in(session)
            audit("resolve_alert", f"alert:{alert.id}", {"kind": alert.kind}, session=session)
    flash("お知らせを対応済みにしました。", "info")
    return redirect(url_for("console.dashboard"))

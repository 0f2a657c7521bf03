"""Counsellors: add, edit, deactivate; topics, weekly hours and days off.

The rules live in `handlers/counsellors.py`; these views read the form, call it, audit the change
in its transaction and show the page again.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from handlers import counsellors as admin
from conversations.schedule import WEEKDAYS_JA
from models import Counsellor

from bot.console.audit import audit
from bot.console.auth import requires
from bot.console.blueprint import bp
from bot.console.formatting import date_label
from bot.services import current_services




def _weekdays() -> list[int]:
    return sorted(current_services().desk_settings.rules.open_weekdays)


def _page(template: str, status: int = 200, **context):
    settings = current_services().desk_settings
    windows = "、".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in settings.rules.windows)
    return render_template(template, topics=settings.topics, weekdays=[(d, WEEKDAYS_JA[d]) for d in _weekdays()],
                           desk_windows=windows, grid=settings.rules.session_minutes, **context), status


def _bookings_link(counsellor_id: int) -> str:
    # The bookings list is another console page; it may not exist yet in every build.
    return url_for("console.bookings", counsellor=counsellor_id) if "console.bookings" in current_app.view_functions \
        else f"/console/bookings?counsellor={counsellor_id}"


@bp.get("/counsellors")
@requires("admin")
def counsellors():
    with current_services().db.transaction() as session:
        rows = list(session.scalars(select(Counsellor).order_by(Counsellor.active.desc(), Counsellor.id)))
        audit("counsellors_viewed", "counsellors", session=session)
    return render_template("console/counsellors.html", counsellors=rows)


@bp.route("/counsellors/new", methods=["GET", "POST"])
@requires("admin")
def counsellor_new():
    if request.method == "GET":
        return _page("console/counsellor_form.html", form=admin.CounsellorForm(), errors={}, counsellor=None)
    form = admin.CounsellorForm.from_form(request.form, _weekdays())
    settings = current_services().desk_settings
    with current_services().db.transaction() as session:
        checked, errors = admin.check(session, form, settings.topics, settings.rules)
        if checked is not None:
            try:
                counsellor = admin.create(session, checked, current_services().clock())
            except admin.EmailTaken:
                checked, errors = None, {"email": admin.EMAIL_TAKEN}
        if checked is not None:
            audit("counsellor_created", f"counsellor:{counsellor.id}",
                  {"name": checked.name, "email": checked.email, "topics": checked.topics, "weekly": checked.weekly},
                  session=session)
    if errors:
        return _page("console/counsellor_form.html", 422, form=form, errors=errors, counsellor=None)
    flash(f"相談員「{checked.name}」を登録しました。", "info")
    return redirect(url_for("console.counsellor", counsellor_id=counsellor.id))


@bp.route("/counsellors/<int:counsellor_id>", methods=["GET", "POST"])
@requires("admin")
def counsellor(counsellor_id: int):
    action = request.form.get("action", "save") if request.method == "POST" else None
    if action == "add_day_off":
        return _add_day_off(counsellor_id)
    if action == "remove_day_off":
        return _remove_day_off(counsellor_id)
    if action not in (None, "save"):
        abort(400)
    settings = current_services().desk_settings
    with current_services().db.transaction() as session:
        row = session.get(Counsellor, counsellor_id)
        if row is None:
            abort(404)
        if action is None:
            audit("counsellor_viewed", f"counsellor:{row.id}", session=session)
            return _page("console/counsellor.html", counsellor=row, errors={},
                         form=admin.CounsellorForm.from_counsellor(row, _weekdays()), day_off="")
        form = admin.CounsellorForm.from_form(request.form, _weekdays())
        checked, errors = admin.check(session, form, settings.topics, settings.rules, row.id)
        if checked is None:
            return _page("console/counsellor.html", 422, counsellor=row, errors=errors, form=form, day_off="")
        try:
            changes = admin.update(session, row, checked, _weekdays())
        except admin.EmailTaken:
            return _page("console/counsellor.html", 422, counsellor=row, form=form, day_off="",
                         errors={"email": admin.EMAIL_TAKEN})
        if changes:
            audit("counsellor_updated", f"counsellor:{row.id}", changes, session=session)
    flash("変更を保存しました。" if changes else "変更はありませんでした。", "info")
    return redirect(url_for("console.counsellor", counsellor_id=counsellor_id))


def _add_day_off(counsellor_id: int):
    now = current_services().clock()
    with current_services().db.transaction() as session:
        row = session.get(Counsellor, counsellor_id)
        if row is None:
            abort(404)
        typed = request.form.get("day_off", "")
        day = admin.parse_day(typed)
        error = None
        if day is None:
            error = "休みの日を「2026-12-24」の形で入力してください。"
        elif day < admin.today(now):
            error = "過去の日付は登録できません。本日以降の日付を入力してください。"
        elif day.isoformat() in row.days_off:
            error = f"{date_label(day)}はすでに休みとして登録されています。"
        blocking = 0
        if error is None:
            blocking = admin.add_day_off(session, row, day, now)
            if not blocking:
                audit("counsellor_day_off_added", f"counsellor:{row.id}", {"day_off": day.isoformat()},
                      session=session)
        if error or blocking:
            form = admin.CounsellorForm.from_counsellor(row, _weekdays())
            return _page("console/counsellor.html", 409 if blocking else 422, counsellor=row, form=form, errors={},
                         day_off=typed, day_off_error=error, blocking=blocking,
                         blocking_link=_bookings_link(row.id) if blocking else None)
    flash(f"{date_label(day)}を休みとして登録しました。この日の予約枠は、すぐに利用者へ表示されなくなります。", "info")
    return redirect(url_for("console.counsellor", counsellor_id=counsellor_id))


def _remove_day_off(counsellor_id: int):
    with current_services().db.transaction() as session:
        row = session.get(Counsellor, counsellor_id)
        if row is None:
            abort(404)
        day = admin.parse_day(request.form.get("day_off", ""))
        removed = day is not None and admin.remove_day_off(row, day)
        if removed:
            audit("counsellor_day_off_removed", f"counsellor:{row.id}", {"day_off": day.isoformat()}, session=session)
    if removed:
        flash(f"{date_label(day)}の休みを削除しました。", "info")
    else:
        flash("その休みは登録されていませんでした。", "error")
    return redirect(url_for("console.counsellor", counsellor_id=counsellor_id))


@bp.post("/counsellors/<int:counsellor_id>/active")
@requires("admin")
def counsellor_active(counsellor_id: int):
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        abort(400)
    with current_services().db.transaction() as session:
        row = session.get(Counsellor, counsellor_id)
        if row is None:
            abort(404)
        was = row.active
        blocking = admin.set_active(session, row, wanted == "1", current_services().clock())
        if not blocking and was != row.active:
            audit("counsellor_activated" if row.active else "counsellor_deactivated", f"counsellor:{row.id}",
                  {"active": [was, row.active]}, session=session)
        if blocking:
            form = admin.CounsellorForm.from_counsellor(row, _weekdays())
            return _page("console/counsellor.html", 409, counsellor=row, form=form, errors={}, day_off="",
                         deactivate_blocking=blocking, blocking_link=_bookings_link(row.id))
    flash("相談員を有効にしました。予約の受付に使われます。" if wanted == "1"
          else "相談員を無効にしました。新しい予約には使われません。", "info")
    return redirect(url_for("console.counsellor", counsellor_id=counsellor_id))

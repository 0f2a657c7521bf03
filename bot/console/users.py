"""Users: restrict and lift a restriction, erase a user's personal data (admins only).

The rules live in `handlers/users.py`; these views check the form, call it, and audit in the same
transaction.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from math import ceil

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from conversations.schedule import TOKYO, to_tokyo
from handlers import attendance
from handlers import users as user_actions
from models import Booking, LineUser, PolicyConsent

from bot.console.audit import audit
from bot.console.auth import requires
from bot.console.identity import current_operator
from bot.console.blueprint import bp, get_or_404
from bot.console.conversations import badges, display_names, page_number
from bot.console.formatting import moment_label, status_label
from bot.services import current_services

PAGE_SIZE = 30
STATUS_FILTERS = {
    "restricted": ("予約制限中", LineUser.restricted_at.is_not(None)),
    "flagged": ("要注意", LineUser.flagged_at.is_not(None)),
    "blocked": ("ブロック中", LineUser.blocked_at.is_not(None)),
    "erased": ("消去済み", LineUser.erased_at.is_not(None)),
}
ERASED_LABELS = {"bookings": "予約の氏名・フリガナ・メールアドレス・電話番号・ご相談内容",
                 "messages": "会話の本文", "webhook_events": "LINE から受け取った元データ",
                 "outbound_messages": "送信済みメッセージの本文", "conversation_state": "入力途中の回答",
                 "meetings": "オンライン相談の参加者に含まれるメールアドレス"}


def _latest_consents(session, user_ids: list[int]) -> dict[int, PolicyConsent]:
    if not user_ids:
        return {}
    latest = (select(func.max(PolicyConsent.id)).where(PolicyConsent.user_id.in_(user_ids))
              .group_by(PolicyConsent.user_id))
    return {c.user_id: c for c in session.scalars(select(PolicyConsent).where(PolicyConsent.id.in_(latest)))}


def consent_label(consent: PolicyConsent | None) -> str:
    if consent is None:
        return "未回答"
    return f"{consent.policy_version} に{'同意' if consent.agreed else '不同意'}（{moment_label(consent.created_at)}）"


@bp.get("/users")
@requires("admin")
def users():
    status = request.args.get("status", "")
    status = status if status in STATUS_FILTERS else ""
    page = page_number()
    where = [STATUS_FILTERS[status][1]] if status else []
    bookings = (select(Booking.user_id, func.count().label("n")).group_by(Booking.user_id).subquery())
    query = (select(LineUser, func.coalesce(bookings.c.n, 0))
             .outerjoin(bookings, bookings.c.user_id == LineUser.id).where(*where))
    with current_services().db.transaction() as session:
        total = session.scalar(select(func.count()).select_from(LineUser).where(*where)) or 0
        rows = session.execute(query.order_by(LineUser.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        ids = [user.id for user, _ in rows]
        names = display_names(session, current_operator(), ids)
        consents = _latest_consents(session, ids)
        listed = [{"id": user.id, "name": names[user.id], "badges": badges(user), "bookings": count,
                   "consent": consent_label(consents.get(user.id)), "last_seen": moment_label(user.last_seen_at)}
                  for user, count in rows]
        audit("view_users", "users", {"status": status or "all", "page": page, "shown": len(listed)}, session=session)
    return render_template("console/users.html", users=listed, status=status, total=total, page=page,
                           pages=max(1, ceil(total / PAGE_SIZE)),
                           statuses=[(key, label) for key, (label, _) in STATUS_FILTERS.items()])


@bp.get("/users/<int:user_id>")
@requires("admin")
def user(user_id: int):
    with current_services().db.transaction() as session:
        found = get_or_404(session, LineUser, user_id)
        bookings = list(session.scalars(select(Booking).where(Booking.user_id == user_id)
                                        .order_by(Booking.starts_at.desc())))
        consents = list(session.scalars(select(PolicyConsent).where(PolicyConsent.user_id == user_id)
                                        .order_by(PolicyConsent.id)))
        view = {
            "id": found.id, "name": display_names(session, current_operator(), [found.id])[found.id],
            "badges": badges(found), "created": moment_label(found.created_at), "followed": moment_label(found.followed_at),
            "last_seen": moment_label(found.last_seen_at), "blocked": moment_label(found.blocked_at),
            "restricted": moment_label(found.restricted_at), "restriction_reason": found.restriction_reason,
            "restricted_until": moment_label(found.restricted_until) if found.restricted_until else None,
            "no_show_review": moment_label(found.no_show_review_at) if found.no_show_review_at else None,
            "no_shows": attendance.no_shows(session, current_services().config, found.id, current_services().clock()),
            "flagged": moment_label(found.flagged_at), "erased": moment_label(found.erased_at),
            "consent": consent_label(consents[-1] if consents else None),
        }
        booking_rows = [{"reference": b.reference, "starts": moment_label(b.starts_at), "topic": b.topic,
                         "status": status_label(b.status)} for b in bookings]
        audit("view_user", f"line_user:{user_id}", session=session)
    services = current_services()
    default_until = (to_tokyo(services.clock()) + timedelta(days=services.config.restriction_days)).date()
    return render_template("console/user.html", user=view, bookings=booking_rows, consents=len(consents),
                           max_reason=user_actions.MAX_REASON, default_until=default_until.isoformat(),
                           no_show_window_days=services.config.no_show_window_days)


def _until(raw: str) -> datetime | None:
    """The form's end date (Tokyo): the restriction ends at the start of that day. Blank: no end."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), time(0), tzinfo=TOKYO)
    except ValueError:
        raise user_actions.UserActionError("制限の終了日を正しく入力してください（例：2027-03-01）。") from None


def _act(user_id: int, action: str, done: str):
    """Run restrict or lift with the form's reason, audited in the same transaction."""
    reason = request.form.get("reason", "")
    try:
        with current_services().db.transaction() as session:
            get_or_404(session, LineUser, user_id)
            detail = {"reason": reason.strip()}
            if action == "restrict_user":
                until = _until(request.form.get("until", ""))
                user_actions.restrict(session, current_services(), user_id, reason, current_services().clock(), until)
                if until is not None:
                    detail["until"] = until.date().isoformat()
            else:
                user_actions.lift(session, current_services(), user_id, reason, current_services().clock())
            audit(action, f"line_user:{user_id}", detail, session=session)
    except user_actions.UserActionError as e:
        flash(str(e), "error")
    else:
        flash(done, "info")
    return redirect(url_for("console.user", user_id=user_id), 303)


@bp.post("/users/<int:user_id>/restrict")
@requires("admin")
def user_restrict(user_id: int):
    return _act(user_id, "restrict_user", "予約を制限しました。利用者には LINE でお知らせします。")


@bp.post("/users/<int:user_id>/keep-open")
@requires("admin")
def user_keep_open(user_id: int):
    """After repeated no-shows: the operator decides not to restrict."""
    reason = request.form.get("reason", "")
    try:
        with current_services().db.transaction() as session:
            get_or_404(session, LineUser, user_id)
            user_actions.keep_booking_open(session, user_id, reason)
            audit("no_show_not_restricted", f"line_user:{user_id}", {"reason": reason.strip()}, session=session)
    except user_actions.UserActionError as e:
        flash(str(e), "error")
    else:
        flash("制限せずに予約の受付を続けます。", "info")
    return redirect(url_for("console.user", user_id=user_id), 303)


@bp.post("/users/<int:user_id>/lift")
@requires("admin")
def user_lift(user_id: int):
    return _act(user_id, "lift_restriction", "予約の制限を解除しました。利用者には LINE でお知らせします。")


@bp.route("/users/<int:user_id>/erase", methods=["GET", "POST"])
@requires("admin")
def user_erase(user_id: int):
    """GET shows what would be erased and asks the operator to type the user's number; POST erases."""
    now = current_services().clock()
    if request.method == "POST":
        if request.form.get("confirm_id", "").strip().lstrip("#") != str(user_id):
            flash("確認のため、利用者番号を正しく入力してください。", "error")
            return redirect(url_for("console.user_erase", user_id=user_id), 303)
        try:
            with current_services().db.transaction() as session:
                get_or_404(session, LineUser, user_id)
                counts = user_actions.erase(session, user_id, now)
                audit("erase_user", f"line_user:{user_id}", counts.as_dict(), session=session)
        except user_actions.UserActionError as e:
            flash(str(e), "error")
            return redirect(url_for("console.user_erase", user_id=user_id), 303)
        flash("個人情報を消去しました。", "info")
        return redirect(url_for("console.user", user_id=user_id), 303)

    with current_services().db.transaction() as session:
        found = get_or_404(session, LineUser, user_id)
        name = display_names(session, current_operator(), [user_id])[user_id]
        preview = user_actions.erasure_preview(session, user_id)
        blocking = [{"reference": b.reference, "starts": moment_label(b.starts_at),
                     "status": status_label(b.status)}
                    for b in user_actions.upcoming_bookings(session, user_id, now)]
        erased = moment_label(found.erased_at)
        audit("view_erase", f"line_user:{user_id}", session=session)
    items = [(ERASED_LABELS[key], n) for key, n in preview.as_dict().items()]
    return render_template("console/user_erase.html", user_id=user_id, name=name, items=items,
                           blocking=blocking, erased=erased)

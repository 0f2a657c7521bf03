"""Conversations: users with their last activity and step, one user's timeline as a chat, search.

Admins see everyone; a counsellor sees only the users booked with them (`users_visible_to`), and a
user outside their scope answers 404, the same as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import ceil
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask import session as flask_session
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers import users as user_actions
from conversations.engine import REASK_CAP
from conversations.flows import FLOWS
from models import Booking, ConversationState, LineUser, MessageLog, Operator, PolicyConsent
from models.message_log import INBOUND

from bot.console.audit import audit
from bot.console.auth import polled, requires
from bot.console.identity import current_operator
from bot.console.blueprint import bp
from bot.console.formatting import moment_label, status_label
from bot.console.scope import bookings_visible_to, messages_visible_to, users_visible_to
from bot.services import current_services

TOKYO = ZoneInfo("Asia/Tokyo")
PAGE_SIZE = 30
TIMELINE_LIMIT = 1000  # the newest messages on the page; older ones are rarely needed and slow it down
POLL_LIMIT = 200
# The users whose timeline this console session has read (and the audit log has recorded).
TIMELINES_READ = "console_timelines_read"  # user id -> the newest message id this session was shown
# The text searched for in the conversation list, kept out of its URL.
SEARCH = "console_conversation_search"
# The engine gives the desk's phone number at its re-ask cap and starts counting again from 0, so a
# saved state never holds the cap itself: one below it (wrong answers in a row at this question)
# is the most a state can show.
REASK_STUCK = REASK_CAP - 1
# Idle this long in the middle of a flow counts as stuck: well past any normal pause between
# answers, and before the engine's own inactivity reset (30 minutes) wipes where they stopped.
IDLE_STUCK_MINUTES = 10

FLOW_LABELS = {"consent": "同意", "booking": "予約", "my_bookings": "予約の確認", "operator": "窓口から", "chat": "チャット相談",
               "attendance": "出欠"}
STEP_LABELS = {
    "agree": "同意の確認", "topic": "テーマ", "date": "日付", "time": "時間", "name": "お名前",
    "furigana": "フリガナ", "age": "年齢", "email": "メールアドレス", "phone": "電話番号",
    "consultation": "ご相談内容", "summary": "内容の確認", "edit": "修正", "list": "予約一覧",
    "sure": "キャンセルの確認", "restricted": "予約の制限", "restriction_lifted": "制限の解除",
    "cancelled": "予約のキャンセル",
}
KIND_LABELS = {"follow": "（友だち追加）", "unfollow": "（ブロック）", "sticker": "（スタンプ）",
               "image": "（画像）", "video": "（動画）", "audio": "（音声）", "file": "（ファイル）",
               "location": "（位置情報）", "unsent": "（送信取消）"}


# -- shared with the users pages -----------------------------------------------------------------

def flow_label(flow: str | None, step: str | None) -> str:
    if not flow:
        return ""
    label = FLOW_LABELS.get(flow, flow)
    return f"{label} › {STEP_LABELS.get(step, step)}" if step else label


def badges(user: LineUser) -> list[tuple[str, str]]:
    """(label, css modifier) for the user's states an operator must notice."""
    found = []
    if user.flagged_at:
        found.append(("要注意", "danger"))
    if user.restricted_at:
        found.append(("予約制限中", "warn"))
    if user.blocked_at:
        found.append(("ブロック中", "muted"))
    if user.erased_at:
        found.append(("消去済み", "muted"))
    return found


def display_names(session: Session, operator: Operator, user_ids: list[int]) -> dict[int, str]:
    """The name on each user's latest booking this operator may see, else "LINE利用者 #id"."""
    names = {uid: f"LINE利用者 #{uid}" for uid in user_ids}
    if not user_ids:
        return names
    latest = (select(Booking.user_id, func.max(Booking.id).label("id"))
              .where(Booking.user_id.in_(user_ids), Booking.name.is_not(None), bookings_visible_to(operator))
              .group_by(Booking.user_id).subquery())
    for uid, name in session.execute(select(Booking.user_id, Booking.name).join(latest, Booking.id == latest.c.id)):
        names[uid] = name
    return names


def visible_user(session: Session, operator: Operator, user_id: int) -> LineUser:
    user = session.scalar(select(LineUser).where(LineUser.id == user_id, users_visible_to(operator)))
    if user is None:
        abort(404)
    return user


def page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1




# -- the list ------------------------------------------------------------------------------------

def step_choices() -> list[tuple[str, str]]:
    return [(f"{flow.name}:{step.name}", flow_label(flow.name, step.name))
            for flow in FLOWS.values() for step in flow.steps]


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass
class Filters:
    q: str
    date_from: date | None
    date_to: date | None
    flagged: bool
    step: str
    stuck: bool

    @classmethod
    def from_args(cls, args, q: str = "") -> Filters:
        """The filters in a list URL; the searched text never is one (it can be personal data:
        browser history and proxy logs keep URLs), it comes from the session (`search`)."""
        step = args.get("step", "")
        return cls(q=q.strip()[:100], date_from=_day(args.get("from")), date_to=_day(args.get("to")),
                   flagged=args.get("flagged") == "1", step=step if step in dict(step_choices()) else "",
                   stuck=args.get("stuck") == "1")

    def args(self) -> dict[str, str]:
        found = {"search": "1" if self.q else "", "from": self.date_from.isoformat() if self.date_from else "",
                 "to": self.date_to.isoformat() if self.date_to else "", "flagged": "1" if self.flagged else "",
                 "step": self.step, "stuck": "1" if self.stuck else ""}
        return {k: v for k, v in found.items() if v}

    def conditions(self, now: datetime, session: Session, operator: Operator) -> list[Any]:
        where: list[Any] = []
        if self.q or self.date_from or self.date_to:
            said = select(MessageLog.user_id).where(messages_visible_to(session, operator))
            if self.q:
                said = said.where(MessageLog.text.icontains(self.q, autoescape=True))
            if self.date_from:
                said = said.where(MessageLog.created_at >= datetime.combine(self.date_from, time(0), TOKYO))
            if self.date_to:
                said = said.where(MessageLog.created_at < datetime.combine(self.date_to + timedelta(days=1), time(0), TOKYO))
            where.append(LineUser.id.in_(said))
        if self.flagged:
            where.append(LineUser.flagged_at.is_not(None))
        if self.step:
            flow, step = self.step.split(":", 1)
            where += [ConversationState.flow == flow, ConversationState.step == step]
        if self.stuck:
            idle_since = now - timedelta(minutes=IDLE_STUCK_MINUTES)
            where += [ConversationState.flow.is_not(None),
                      (ConversationState.reasks >= REASK_STUCK) | (ConversationState.updated_at < idle_since)]
        return where


@bp.post("/conversations")
@requires("admin", "counsellor")
def conversations_search():
    """The filter form posts here, so the searched text stays out of the URL; it is kept in the
    signed session cookie and the list is shown at a URL holding only the other filters."""
    q = request.form.get("q", "").strip()[:100]
    flask_session[SEARCH] = q
    return redirect(url_for("console.conversations", **Filters.from_args(request.form, q).args()), 303)


@bp.get("/conversations")
@requires("admin", "counsellor")
def conversations():
    operator = current_operator()
    filters = Filters.from_args(request.args, flask_session.get(SEARCH, "") if request.args.get("search") else "")
    page = page_number()
    now = current_services().clock()
    last = (select(MessageLog.user_id, func.max(MessageLog.created_at).label("at"))
            .group_by(MessageLog.user_id).subquery())
    activity = func.coalesce(last.c.at, LineUser.last_seen_at, LineUser.created_at)
    with current_services().db.transaction() as session:
        base = (select(LineUser, ConversationState, activity.label("activity"))
                .outerjoin(ConversationState, ConversationState.user_id == LineUser.id)
                .outerjoin(last, last.c.user_id == LineUser.id)
                .where(users_visible_to(operator), *filters.conditions(now, session, operator)))
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = session.execute(base.order_by(activity.desc(), LineUser.id.desc())
                               .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        names = display_names(session, operator, [user.id for user, _, _ in rows])
        listed = [{
            "id": user.id, "name": names[user.id], "activity": moment_label(activity_at),
            "where": flow_label(state.flow, state.step) if state else "",
            "reasks": state.reasks if state and state.flow else 0,
            "stuck": bool(state and state.flow and (state.reasks >= REASK_STUCK or state.updated_at
                                                    < now - timedelta(minutes=IDLE_STUCK_MINUTES))),
            "badges": badges(user),
        } for user, state, activity_at in rows]
        audit("view_conversations", "conversations",
              {**{k: v for k, v in filters.args().items() if k != "search"}, "search": bool(filters.q),
               "page": page, "shown": len(listed)}, session=session)
    pages = max(1, ceil(total / PAGE_SIZE))
    return render_template("console/conversations.html", users=listed, filters=filters, total=total, page=page,
                           pages=pages, step_choices=step_choices(), stuck_minutes=IDLE_STUCK_MINUTES,
                           stuck_reasks=REASK_STUCK)


# -- one user's timeline -------------------------------------------------------------------------

def operator_names(session: Session, rows: list[MessageLog]) -> dict[int, str]:
    """The names of the operators who wrote any of these messages in a chat."""
    ids = {row.operator_id for row in rows if row.operator_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Operator.id, Operator.name).where(Operator.id.in_(ids))).all())


def bubble(row: MessageLog, erased: bool, operators: dict[int, str] | None = None) -> dict[str, Any]:
    """One message as the page and the poll show it. The text is returned as data and always
    rendered escaped (Jinja autoescape, textContent in the script): a user can type markup.
    `by`: the operator who wrote it in a chat (empty for the user's and the bot's messages)."""
    if row.text:
        text = row.text
    elif row.kind in KIND_LABELS:
        text = KIND_LABELS[row.kind]
    else:
        text = "（消去済み）" if erased else f"（{row.kind}）"
    return {"id": row.id, "direction": "in" if row.direction == INBOUND else "out", "text": text,
            "time": moment_label(row.created_at), "at": row.created_at.isoformat(),
            "where": flow_label(row.flow, row.step),
            "by": (operators or {}).get(row.operator_id, "相談員") if row.operator_id is not None else ""}


@bp.get("/conversations/<int:user_id>")
@requires("admin", "counsellor")
def conversation(user_id: int):
    operator = current_operator()
    with current_services().db.transaction() as session:
        user = visible_user(session, operator, user_id)
        mine = messages_visible_to(session, current_operator())
        rows = list(session.scalars(select(MessageLog).where(MessageLog.user_id == user.id, mine)
                                    .order_by(MessageLog.id.desc()).limit(TIMELINE_LIMIT)))
        rows.reverse()
        total = session.scalar(select(func.count()).select_from(MessageLog).where(MessageLog.user_id == user.id, mine))
        state = session.get(ConversationState, user.id)
        consents = list(session.scalars(select(PolicyConsent).where(PolicyConsent.user_id == user.id)
                                        .order_by(PolicyConsent.id)))
        bookings = list(session.scalars(select(Booking).where(Booking.user_id == user.id, bookings_visible_to(operator))
                                        .order_by(Booking.starts_at.desc())))
        view = {
            "id": user.id, "name": display_names(session, operator, [user.id])[user.id], "badges": badges(user),
            "flagged_at": moment_label(user.flagged_at), "erased": user.erased_at is not None,
            "last_seen": moment_label(user.last_seen_at),
            "where": flow_label(state.flow, state.step) if state and state.flow else "",
            "reasks": state.reasks if state else 0, "state_at": moment_label(state.updated_at) if state else "",
        }
        names = operator_names(session, rows)
        messages = [bubble(row, user.erased_at is not None, names) for row in rows]
        consent_rows = [{"version": c.policy_version, "agreed": c.agreed, "method": c.method,
                         "at": moment_label(c.created_at)} for c in consents]
        booking_rows = [{"reference": b.reference, "starts": moment_label(b.starts_at), "topic": b.topic,
                         "status": status_label(b.status)} for b in bookings]
        audit("view_conversation", f"line_user:{user.id}", {"messages": len(messages)}, session=session)
        _shown(user.id, messages[-1]["id"] if messages else 0)
    return render_template("console/conversation.html", user=view, messages=messages, total=total,
                           consents=consent_rows, bookings=booking_rows,
                           last_id=messages[-1]["id"] if messages else 0)


def _shown(user_id: int, last_id: int) -> None:
    read = dict(flask_session.get(TIMELINES_READ, {}))
    read[str(user_id)] = max(last_id, read.get(str(user_id), 0))
    flask_session[TIMELINES_READ] = read


@bp.get("/conversations/<int:user_id>/messages")
@requires("admin", "counsellor")
@polled
def conversation_messages(user_id: int):
    """New messages after `after` for the page's live view, as JSON.

    Audited on the first read of this user's timeline in this session (the endpoint can be read
    without opening the page) and whenever it returns a full page of older messages; not on every
    poll, which would bury the audit log in entries that say nothing new.
    """
    try:
        after = max(0, int(request.args.get("after", "0")))
    except ValueError:
        after = 0
    with current_services().db.transaction() as session:
        user = visible_user(session, current_operator(), user_id)
        rows = list(session.scalars(select(MessageLog).where(MessageLog.user_id == user.id, MessageLog.id > after,
                                                             messages_visible_to(session, current_operator()))
                                    .order_by(MessageLog.id).limit(POLL_LIMIT)))
        messages = [bubble(row, user.erased_at is not None, operator_names(session, rows)) for row in rows]
        shown = flask_session.get(TIMELINES_READ, {}).get(str(user.id))
        # A live refresh asks only for what is newer than what was shown; reading back (a first read,
        # or a page of messages older than those already shown) is a view of its own.
        if shown is None or (messages and after < shown):
            audit("view_conversation", f"line_user:{user.id}", {"messages": len(messages), "via": "poll"},
                  session=session)
        if messages:
            _shown(user.id, messages[-1]["id"])
    return jsonify({"messages": messages, "last_id": messages[-1]["id"] if messages else after})


@bp.post("/conversations/<int:user_id>/flag-handled")
@requires("admin")
def conversation_flag_handled(user_id: int):
    try:
        with current_services().db.transaction() as session:
            user_actions.clear_flag(session, visible_user(session, current_operator(), user_id).id)
            audit("flag_handled", f"line_user:{user_id}", session=session)
    except user_actions.UserActionError as e:
        flash(str(e), "error")
    else:
        flash("要注意の表示を対応済みにしました。", "info")
    return redirect(url_for("console.conversation", user_id=user_id), 303)

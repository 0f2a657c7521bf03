"""チャット相談: the waiting line, the chats in progress and the recent ended ones; the operator's own
availability; taking, answering, handing over and ending a chat; canned replies (定型文, admins).

Any chat-role operator (admin, counsellor) sees the waiting and active chats, so that they can take
them; a chat's timeline is open to its operator and to admins (404 for anyone else, as for a user
outside a counsellor's scope). A viewer gets none of it. The use cases are in handlers/chats.py;
this module shows them and audits every read of a chat's timeline, every operator message (what
kind and how long, never its text) and every change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask import session as flask_session
from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers import chats as desk
from handlers.chats import CHAT_ROLES, MAX_TEXT, ChatError, text_length
from models import Chat, ChatTemplate, LineUser, MessageLog, Operator
from models.chat import ACTIVE, BY_OPERATOR, BY_SILENCE, BY_USER, ENDED, LEFT_LINE, NOBODY_CAME, OUTCOMES, WAITING
from models.operator import ADMIN

from bot.console.audit import audit
from bot.console.auth import polled, requires
from bot.console.blueprint import bp, get_or_404
from bot.console.conversations import TIMELINE_LIMIT, POLL_LIMIT, bubble, display_names, operator_names
from bot.console.formatting import moment_label
from bot.console.identity import current_operator
from bot.services import current_services

RECENT_ENDED = 20
# A chat's timeline: the user's messages from a little before they asked for a person (what they
# said just before) to a little after it ended (their rating).
CONTEXT = timedelta(minutes=5)
# The chats whose timeline this console session has read: chat id -> the newest message id shown.
CHATS_READ = "console_chats_read"
# Whether this console session has read the chat lists (the page, or the feed without it).
CHATS_LISTED = "console_chats_listed"
TITLE_LIMIT = 60

STATUS_LABELS = {WAITING: "順番待ち", ACTIVE: "対応中", ENDED: "終了"}
ENDED_BY_LABELS = {BY_USER: "利用者が終了", BY_OPERATOR: "相談員が終了", BY_SILENCE: "やりとりがなく自動終了",
                   LEFT_LINE: "利用者が退出", NOBODY_CAME: "対応者なし（待ち時間切れ）"}
WHAT_LABELS = {"text": "返信", "template": "定型文", "booking": "予約ボタン", "faq": "よくある質問"}


def wait_label(seconds: float) -> str:
    minutes = int(max(0, seconds) // 60)
    if minutes < 1:
        return "1分未満"
    if minutes < 60:
        return f"{minutes}分"
    return f"{minutes // 60}時間{minutes % 60}分"


def may_read(operator: Operator, chat: Chat) -> bool:
    """A chat's timeline: its operator's and the admins'."""
    return operator.role == ADMIN or (chat.operator_id is not None and chat.operator_id == operator.id)


def readable_chat(session: Session, chat_id: int) -> Chat:
    chat = get_or_404(session, Chat, chat_id)
    if not may_read(current_operator(), chat):
        abort(404)
    return chat


def me(session: Session) -> Operator:
    """The signed-in operator, in this transaction's session."""
    return session.get(Operator, current_operator().id)


# -- the lists -----------------------------------------------------------------------------------

def overview(session: Session, operator: Operator, now: datetime) -> dict[str, Any]:
    """What the page and its feed show: the same rows, as data (rendered escaped by both)."""
    waiting = list(session.scalars(select(Chat).where(Chat.status == WAITING).order_by(Chat.requested_at, Chat.id)))
    active = list(session.scalars(select(Chat).where(Chat.status == ACTIVE).order_by(Chat.taken_at, Chat.id)))
    ended = list(session.scalars(select(Chat).where(Chat.status == ENDED)
                                 .order_by(Chat.ended_at.desc(), Chat.id.desc()).limit(RECENT_ENDED)))
    every = waiting + active + ended
    users = display_names(session, operator, sorted({c.user_id for c in every}))
    ids = {c.operator_id for c in every if c.operator_id is not None}
    operators = dict(session.execute(select(Operator.id, Operator.name).where(Operator.id.in_(ids))).all()) if ids else {}

    def view_url(chat: Chat) -> str:
        return url_for("console.chats_view", chat_id=chat.id) if may_read(operator, chat) else ""

    def waited(chat: Chat) -> str:
        return wait_label(((chat.taken_at or now) - chat.requested_at).total_seconds()) if chat.taken_at or \
            chat.status == WAITING else "—"

    return {
        "waiting_count": len(waiting),
        "waiting": [{"id": c.id, "user": users[c.user_id], "requested": moment_label(c.requested_at),
                     "waited": waited(c), "crisis": c.crisis,
                     "take_url": url_for("console.chats_take", chat_id=c.id)} for c in waiting],
        "active": [{"id": c.id, "user": users[c.user_id], "operator": operators.get(c.operator_id, ""),
                    "since": moment_label(c.taken_at), "waited": waited(c), "crisis": c.crisis,
                    "mine": c.operator_id == operator.id, "view_url": view_url(c)} for c in active],
        "ended": [{"id": c.id, "user": users[c.user_id], "operator": operators.get(c.operator_id, "—"),
                   "ended": moment_label(c.ended_at), "ended_by": ENDED_BY_LABELS.get(c.ended_by or "", "—"),
                   "outcome": OUTCOMES.get(c.outcome or "", "—"),
                   "satisfaction": c.satisfaction, "waited": waited(c), "view_url": view_url(c)} for c in ended],
    }


def chats_page(status: int = 200):
    operator = current_operator()
    services = current_services()
    with services.db.transaction() as session:
        shown = overview(session, operator, services.clock())
        available = bool(session.scalar(select(Operator.chat_available).where(Operator.id == operator.id)))
        audit("view_chats", "chats", {"waiting": shown["waiting_count"], "active": len(shown["active"]),
                                      "ended": len(shown["ended"])}, session=session)
    flask_session[CHATS_LISTED] = True
    return render_template("console/chats.html", chats=shown, available=available), status


@bp.get("/chats")
@requires("admin", "counsellor")
def chats():
    return chats_page()


@bp.get("/chats/feed")
@requires("admin", "counsellor")
@polled
def chats_feed():
    """The page's live refresh: the same lists as JSON. Audited only when this session has not
    read the lists yet (the feed can be read without the page)."""
    operator = current_operator()
    services = current_services()
    with services.db.transaction() as session:
        shown = overview(session, operator, services.clock())
        if not flask_session.get(CHATS_LISTED):
            audit("view_chats", "chats", {"waiting": shown["waiting_count"], "active": len(shown["active"]),
                                          "ended": len(shown["ended"]), "via": "poll"}, session=session)
    flask_session[CHATS_LISTED] = True
    return jsonify(shown)


@bp.post("/chats/availability")
@requires("admin", "counsellor")
def chats_availability():
    choice = request.form.get("available")
    if choice not in ("1", "0"):
        flash("操作を選び直してください。", "error")
        return redirect(url_for("console.chats"), 303)
    available = choice == "1"
    try:
        with current_services().db.transaction() as session:
            operator = me(session)
            desk.set_available(session, operator, available)
            audit("chat_available_on" if available else "chat_available_off", f"operator:{operator.id}",
                  session=session)
    except ChatError as e:
        flash(str(e), "error")
    else:
        flash("対応可能にしました。チャット相談の申し込みを受け付けます。" if available
              else "対応停止にしました。", "info")
    return redirect(url_for("console.chats"), 303)


# -- one chat ------------------------------------------------------------------------------------

def _in_chat(chat: Chat) -> list[Any]:
    where = [MessageLog.user_id == chat.user_id, MessageLog.created_at >= chat.requested_at - CONTEXT]
    if chat.ended_at is not None:
        where.append(MessageLog.created_at <= chat.ended_at + CONTEXT)
    return where


@bp.post("/chats/<int:chat_id>/take")
@requires("admin", "counsellor")
def chats_take(chat_id: int):
    """One operator per chat. The loser of two at once, or anyone taking a chat already taken or
    ended, sees why (409, the lists with the message)."""
    services = current_services()
    try:
        with services.db.transaction() as session:
            chat = get_or_404(session, Chat, chat_id)
            desk.take(services, session, chat.id, me(session))
            audit("take_chat", f"chat:{chat.id}", {"user": f"line_user:{chat.user_id}"}, session=session)
    except ChatError as e:
        flash(str(e), "error")
        return chats_page(409)
    flash("チャットを引き受けました。利用者に「相談員につながりました」とお知らせしています。", "info")
    return redirect(url_for("console.chats_view", chat_id=chat_id), 303)


def chat_page(chat_id: int, *, draft: str = "", status: int = 200):
    operator = current_operator()
    with current_services().db.transaction() as session:
        chat = readable_chat(session, chat_id)
        user = session.get(LineUser, chat.user_id)
        rows = list(session.scalars(select(MessageLog).where(*_in_chat(chat))
                                    .order_by(MessageLog.id.desc()).limit(TIMELINE_LIMIT)))
        rows.reverse()
        names = operator_names(session, rows)
        messages = [bubble(row, user.erased_at is not None, names) for row in rows]
        holder = session.get(Operator, chat.operator_id) if chat.operator_id else None
        mine = chat.status == ACTIVE and chat.operator_id == operator.id
        colleagues = list(session.scalars(select(Operator).where(
            Operator.active.is_(True), Operator.role.in_(CHAT_ROLES), Operator.id != (chat.operator_id or 0))
            .order_by(Operator.name, Operator.id)))
        view = {
            "id": chat.id, "user": display_names(session, operator, [user.id])[user.id], "user_id": user.id,
            "status": chat.status, "status_label": STATUS_LABELS.get(chat.status, chat.status),
            "requested": moment_label(chat.requested_at), "taken": moment_label(chat.taken_at),
            "operator": holder.name if holder else "", "ended": moment_label(chat.ended_at),
            "ended_by": ENDED_BY_LABELS.get(chat.ended_by or "", ""), "outcome": OUTCOMES.get(chat.outcome or "", ""),
            "satisfaction": chat.satisfaction, "crisis": chat.crisis,
        }
        canned = [{"id": t.id, "title": t.title} for t in desk.templates(session)] if mine else []
        handover = [{"id": o.id, "name": o.name, "available": o.chat_available} for o in colleagues]
        audit("view_chat", f"chat:{chat.id}", {"user": f"line_user:{user.id}", "messages": len(messages)},
              session=session)
        _shown(chat.id, messages[-1]["id"] if messages else 0)
    return render_template(
        "console/chat.html", chat=view, messages=messages, last_id=messages[-1]["id"] if messages else 0,
        mine=mine, can_hand_over=chat.status == ACTIVE and (mine or operator.role == ADMIN),
        canned=canned, handover=handover, outcomes=OUTCOMES, max_text=MAX_TEXT, draft=draft), status


def _shown(chat_id: int, last_id: int) -> None:
    read = dict(flask_session.get(CHATS_READ, {}))
    read[str(chat_id)] = max(last_id, read.get(str(chat_id), 0))
    flask_session[CHATS_READ] = read


@bp.get("/chats/<int:chat_id>")
@requires("admin", "counsellor")
def chats_view(chat_id: int):
    return chat_page(chat_id)


@bp.get("/chats/<int:chat_id>/messages")
@requires("admin", "counsellor")
@polled
def chats_messages(chat_id: int):
    """New messages of the chat after `after`, for the page's live view; audited as the
    conversation page's poll is (a first read in this session, or a read back)."""
    try:
        after = max(0, int(request.args.get("after", "0")))
    except ValueError:
        after = 0
    with current_services().db.transaction() as session:
        chat = readable_chat(session, chat_id)
        user = session.get(LineUser, chat.user_id)
        rows = list(session.scalars(select(MessageLog).where(*_in_chat(chat), MessageLog.id > after)
                                    .order_by(MessageLog.id).limit(POLL_LIMIT)))
        messages = [bubble(row, user.erased_at is not None, operator_names(session, rows)) for row in rows]
        shown = flask_session.get(CHATS_READ, {}).get(str(chat.id))
        if shown is None or (messages and after < shown):
            audit("view_chat", f"chat:{chat.id}", {"user": f"line_user:{user.id}", "messages": len(messages),
                                                   "via": "poll"}, session=session)
        if messages:
            _shown(chat.id, messages[-1]["id"])
        still_open = chat.status != ENDED
    return jsonify({"messages": messages, "last_id": messages[-1]["id"] if messages else after,
                    "open": still_open})


@bp.post("/chats/<int:chat_id>/send")
@requires("admin", "counsellor")
def chats_send(chat_id: int):
    """The operator's message: typed (返信), a canned reply, the booking button or the FAQ answer.
    Audited with what kind it was and its length; its text is in the timeline, never in the audit."""
    services = current_services()
    what = request.form.get("what", "")
    text = request.form.get("text", "")
    template = request.form.get("template_id", "")
    template_id = int(template) if template.isdigit() else None
    try:
        with services.db.transaction() as session:
            chat = readable_chat(session, chat_id)
            sent = desk.send(services, session, chat.id, me(session), what, text, template_id)
            detail: dict[str, Any] = {"what": what, "by_reply": sent.by_reply}
            if what == "text":
                detail["characters"] = text_length(text.strip())
            if what == "template":
                detail["template"] = template_id
            audit("send_chat_message", f"chat:{chat.id}", detail, session=session)
    except ChatError as e:
        flash(str(e), "error")
        return chat_page(chat_id, draft=text if what == "text" else "", status=400)
    flash(f"{WHAT_LABELS.get(what, '')}を送信しました。", "info")
    return redirect(url_for("console.chats_view", chat_id=chat_id), 303)


@bp.post("/chats/<int:chat_id>/hand-over")
@requires("admin", "counsellor")
def chats_hand_over(chat_id: int):
    to = request.form.get("to", "")
    try:
        with current_services().db.transaction() as session:
            chat = readable_chat(session, chat_id)
            colleague = session.get(Operator, int(to)) if to.isdigit() else None
            if colleague is None:
                raise ChatError("引き継ぐ相談員を選んでください。")
            desk.hand_over(session, chat.id, me(session), colleague)
            audit("hand_over_chat", f"chat:{chat.id}", {"to": f"operator:{colleague.id}"}, session=session)
            name = colleague.name
    except ChatError as e:
        flash(str(e), "error")
        return redirect(url_for("console.chats_view", chat_id=chat_id), 303)
    flash(f"{name}さんに引き継ぎました。", "info")
    return redirect(url_for("console.chats"), 303)


@bp.post("/chats/<int:chat_id>/end")
@requires("admin", "counsellor")
def chats_end(chat_id: int):
    services = current_services()
    outcome = request.form.get("outcome", "")
    try:
        with services.db.transaction() as session:
            chat = readable_chat(session, chat_id)
            desk.close(services, session, chat.id, me(session), outcome)
            audit("end_chat", f"chat:{chat.id}", {"outcome": outcome}, session=session)
    except ChatError as e:
        flash(str(e), "error")
        return redirect(url_for("console.chats_view", chat_id=chat_id), 303)
    flash(f"チャットを終了しました（{OUTCOMES[outcome]}）。利用者に満足度をおたずねしています。", "info")
    return redirect(url_for("console.chats"), 303)


# -- canned replies (admins) ---------------------------------------------------------------------

def _template_fields() -> tuple[str, str, str | None]:
    """(title, body, what is wrong with them or None)."""
    title = request.form.get("title", "").strip()
    body = request.form.get("body", "").strip()
    if not title or not body:
        return title, body, "見出しと本文を入力してください。"
    if len(title) > TITLE_LIMIT:
        return title, body, f"見出しは{TITLE_LIMIT}文字以内で入力してください。"
    if text_length(body) > MAX_TEXT:
        return title, body, f"本文は{MAX_TEXT:,}文字以内で入力してください（いま{text_length(body):,}文字）。"
    return title, body, None


def templates_page(editing: dict[str, Any] | None = None, draft: dict[str, str] | None = None, status: int = 200):
    with current_services().db.transaction() as session:
        rows = [{"id": t.id, "title": t.title, "body": t.body, "updated": moment_label(t.updated_at)}
                for t in desk.templates(session)]
    return render_template("console/chat_templates.html", templates=rows, editing=editing,
                           draft=draft or {"title": "", "body": ""}, title_limit=TITLE_LIMIT,
                           max_text=MAX_TEXT), status


@bp.get("/chat-templates")
@requires("admin")
def chats_templates():
    return templates_page()


@bp.post("/chat-templates")
@requires("admin")
def chats_template_add():
    title, body, wrong = _template_fields()
    if wrong:
        flash(wrong, "error")
        return templates_page(draft={"title": title, "body": body}, status=400)
    with current_services().db.transaction() as session:
        row = ChatTemplate(title=title, body=body)
        session.add(row)
        session.flush()
        audit("chat_template_created", f"chat_template:{row.id}", {"title": title}, session=session)
    flash("定型文を追加しました。", "info")
    return redirect(url_for("console.chats_templates"), 303)


@bp.get("/chat-templates/<int:template_id>")
@requires("admin")
def chats_template(template_id: int):
    with current_services().db.transaction() as session:
        row = get_or_404(session, ChatTemplate, template_id)
        editing = {"id": row.id, "title": row.title, "body": row.body}
    return templates_page(editing=editing)


@bp.post("/chat-templates/<int:template_id>")
@requires("admin")
def chats_template_update(template_id: int):
    title, body, wrong = _template_fields()
    if wrong:
        flash(wrong, "error")
        return templates_page(editing={"id": template_id, "title": title, "body": body}, status=400)
    with current_services().db.transaction() as session:
        row = get_or_404(session, ChatTemplate, template_id)
        changed = [name for name, old, new in (("title", row.title, title), ("body", row.body, body)) if old != new]
        row.title, row.body = title, body
        audit("chat_template_updated", f"chat_template:{row.id}", {"title": title, "changed": changed},
              session=session)
    flash("定型文を更新しました。", "info")
    return redirect(url_for("console.chats_templates"), 303)


@bp.post("/chat-templates/<int:template_id>/delete")
@requires("admin")
def chats_template_delete(template_id: int):
    with current_services().db.transaction() as session:
        row = get_or_404(session, ChatTemplate, template_id)
        audit("chat_template_deleted", f"chat_template:{row.id}", {"title": row.title}, session=session)
        session.delete(row)
    flash("定型文を削除しました。", "info")
    return redirect(url_for("console.chats_templates"), 303)

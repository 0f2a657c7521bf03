"""Chat consultation, the desk's side: the line of waiting users, operators taking and answering
chats, and the chats that end by themselves (nobody came, nobody wrote).

Every change to a chat is one conditional UPDATE on its row, so that when two operators, or an
operator and the scheduler, act on the same chat at once, exactly one of them wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conversations import chat as script
from conversations import messages as m
from conversations import texts
from conversations.chat_hours import in_chat_hours, next_opening
from conversations.desk import ChatClosed, ChatView, DeskSettings
from models import Chat, ChatTemplate, LineUser, Operator, OperatorAlert
from models.chat import ACTIVE, BY_OPERATOR, BY_SILENCE, BY_USER, ENDED, LEFT_LINE, NOBODY_CAME, OPEN, OUTCOMES, WAITING
from models.operator import ADMIN, COUNSELLOR

from bot.config import Config
from bot.line.outbox import queue_answer
from handlers import alerts, faq
from bot.services import Services

MAX_TEXT = 5000  # LINE's limit for one text message
CHAT_ROLES = (ADMIN, COUNSELLOR)


def text_length(text: str) -> int:
    """Length as LINE counts it (UTF-16 code units: an emoji outside the BMP counts 2), which is
    also what a browser's maxlength and a script's `.length` count."""
    return len(text.encode("utf-16-le")) // 2


class ChatError(ValueError):
    """Why an operator's action on a chat was refused, in the words the console shows."""


# The user's side (called by the conversation through handlers/database_desk.py)

def someone_available(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(
        Operator.active.is_(True), Operator.chat_available.is_(True), Operator.role.in_(CHAT_ROLES)))))


def is_open(session: Session, settings: DeskSettings, now: datetime) -> bool:
    return in_chat_hours(now, settings.chat, settings.rules) and someone_available(session)


_OPEN_CHAT_OF = select(Chat).where(Chat.user_id == bindparam("user_id"), Chat.status.in_(OPEN))  # every turn: built once


def open_chat_of(session: Session, user_id: int) -> Chat | None:
    return session.scalar(_OPEN_CHAT_OF, {"user_id": user_id})


def view(session: Session, chat: Chat) -> ChatView:
    if chat.status != WAITING:
        return ChatView(chat.id, waiting=False)
    ahead = session.scalar(select(func.count()).select_from(Chat).where(
        Chat.status == WAITING, Chat.id < chat.id)) or 0
    return ChatView(chat.id, waiting=True, ahead=ahead)


def request(session: Session, config: Config, user: LineUser, settings: DeskSettings,
            now: datetime) -> ChatView | ChatClosed:
    if not in_chat_hours(now, settings.chat, settings.rules):
        return ChatClosed(outside_hours=True, next_opening=next_opening(now, settings.chat, settings.rules))
    if not someone_available(session):
        return ChatClosed(outside_hours=False, next_opening=None)
    chat = Chat(user_id=user.id, status=WAITING, requested_at=now, last_message_at=now)
    try:
        with session.begin_nested():
            session.add(chat)
    except IntegrityError:  # the same user's other message opened one a moment ago
        return view(session, open_chat_of(session, user.id))
    found = view(session, chat)
    alerts.raise_alert(session, config, alerts.CHAT_WAITING,
                       f"チャット相談の順番待ちがあります（待っている方：{found.ahead + 1}人）。チャット相談の画面から対応してください。")
    return found


def _nobody_waits_any_more(session: Session, now: datetime) -> None:
    """The line is empty: the alerts that said someone was waiting are done with."""
    if not session.scalar(select(exists().where(Chat.status == WAITING))):
        session.execute(update(OperatorAlert).where(OperatorAlert.kind == alerts.CHAT_WAITING,
                                                    OperatorAlert.resolved_at.is_(None)).values(resolved_at=now))


def end_by_user(session: Session, user_id: int, now: datetime, *, left: bool = False) -> int | None:
    """The user ended their open chat (終了, やめる while waiting, blocking the account)."""
    chat = open_chat_of(session, user_id)
    if chat is None:
        return None
    if not _finish(session, chat.id, (WAITING, ACTIVE), now, LEFT_LINE if left or chat.status == WAITING else BY_USER):
        return None
    return chat.id


def rate(session: Session, user_id: int, chat_id: int, score: int) -> bool:
    if not 1 <= score <= 5:
        return False
    return bool(session.execute(update(Chat).where(
        Chat.id == chat_id, Chat.user_id == user_id, Chat.status == ENDED, Chat.satisfaction.is_(None))
        .values(satisfaction=score)).rowcount)


def user_wrote(session: Session, user_id: int, now: datetime) -> None:
    """The user wrote in their open chat: it is alive for another `idle_minutes`."""
    session.execute(update(Chat).where(Chat.user_id == user_id, Chat.status.in_(OPEN)).values(last_message_at=now))


def keep_reply_token(session: Session, user_id: int, reply_token: str, received_at: datetime) -> None:
    """The bot left the user's message in a chat unanswered: the operator's next message may use
    its reply token (free, unlike a push) while it is fresh."""
    session.execute(update(Chat).where(Chat.user_id == user_id, Chat.status.in_(OPEN)).values(
        reply_token=reply_token, reply_received_at=received_at))


def mark_crisis(session: Session, user_id: int) -> None:
    session.execute(update(Chat).where(Chat.user_id == user_id, Chat.status.in_(OPEN)).values(crisis=True))


# The operator's side (the console)

def set_available(session: Session, operator: Operator, available: bool) -> None:
    if operator.role not in CHAT_ROLES:
        raise ChatError("この役割ではチャット相談を受けられません。")
    operator.chat_available = available


def leave_desk(session: Session, operator_id: int) -> None:
    """The operator's console session ended (signed out, idle, expired, revoked): they no longer
    count as available, so no new user joins a line nobody watches."""
    session.execute(update(Operator).where(Operator.id == operator_id, Operator.chat_available.is_(True))
                    .values(chat_available=False))


def take(services: Services, session: Session, chat_id: int, operator: Operator) -> None:
    """One operator per chat: of two taking it at once, the first UPDATE wins, the other is refused."""
    now = services.clock()
    won = session.execute(update(Chat).where(Chat.id == chat_id, Chat.status == WAITING).values(
        status=ACTIVE, operator_id=operator.id, taken_at=now, last_message_at=now)).rowcount
    if not won:
        raise ChatError("このチャットはすでに他の相談員が対応しているか、終了しています。")
    _nobody_waits_any_more(session, now)
    _tell_user(services, session, chat_id, script.taken())


def hand_over(session: Session, chat_id: int, operator: Operator, to: Operator) -> None:
    if not (to.active and to.role in CHAT_ROLES):
        raise ChatError("その相談員には引き継げません。")
    query = update(Chat).where(Chat.id == chat_id, Chat.status == ACTIVE)
    if operator.role != ADMIN:
        query = query.where(Chat.operator_id == operator.id)
    if not session.execute(query.values(operator_id=to.id)).rowcount:
        raise ChatError("このチャットは引き継げません（対応中の相談員か管理者のみ引き継げます）。")


@dataclass(frozen=True)
class Sent:
    outbound_ids: list[int]
    by_reply: bool


def send(services: Services, session: Session, chat_id: int, operator: Operator, what: str,
         text: str = "", template_id: int | None = None) -> Sent:
    """An operator's message to the user, under the desk's name: by the reply token the user's last
    message left unused while it is fresh, else by push with a retry key (outbox, delivered once)."""
    chat = _own_active(session, chat_id, operator)
    messages = _messages(session, services.desk_settings, what, text, template_id)
    now = services.clock()
    token, received = chat.reply_token, chat.reply_received_at
    fresh = token and received and now - received < timedelta(seconds=services.config.reply_token_ttl_seconds)
    chat.reply_token, chat.reply_received_at, chat.last_message_at = None, None, now
    user = session.get(LineUser, chat.user_id)
    if user.blocked:
        raise ChatError("この利用者はアカウントをブロックしているため、送信できません。")
    ids = queue_answer(session, user, messages, "chat", None, token if fresh else None,
                       _Received(received) if fresh else None, services, operator_id=operator.id)
    return Sent(ids, bool(fresh))


def close(services: Services, session: Session, chat_id: int, operator: Operator, outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ChatError("終了の区分を選んでください。")
    chat = _own_active(session, chat_id, operator)
    if not _finish(session, chat.id, (ACTIVE,), services.clock(), BY_OPERATOR, outcome=outcome):
        raise ChatError("このチャットはすでに終了しています。")
    _tell_user(services, session, chat.id, script.ended(chat.id))


def templates(session: Session) -> Sequence[ChatTemplate]:
    return session.scalars(select(ChatTemplate).order_by(ChatTemplate.title, ChatTemplate.id)).all()


# What ends by itself (the scheduler)

def sweep(services: Services, now: datetime) -> dict[str, int]:
    chat = services.desk_settings.chat
    done = {"chats_unanswered": 0, "chats_silent": 0}
    with services.db.transaction() as session:
        waited = session.scalars(select(Chat.id).where(
            Chat.status == WAITING, Chat.requested_at <= now - timedelta(minutes=chat.wait_minutes))).all()
        silent = session.scalars(select(Chat.id).where(
            Chat.status == ACTIVE, Chat.last_message_at <= now - timedelta(minutes=chat.idle_minutes))).all()
    for chat_id in waited:
        with services.db.transaction() as session:
            if _finish(session, chat_id, (WAITING,), now, NOBODY_CAME):
                _tell_user(services, session, chat_id, script.nobody_came(services.desk_settings))
                done["chats_unanswered"] += 1
    for chat_id in silent:
        with services.db.transaction() as session:
            # Only if still silent: a message since the list was read keeps the chat going.
            if _finish(session, chat_id, (ACTIVE,), now, BY_SILENCE,
                       quiet_since=now - timedelta(minutes=chat.idle_minutes)):
                _tell_user(services, session, chat_id, script.ended(chat_id, by_silence=chat.idle_minutes))
                done["chats_silent"] += 1
    return done


# Helpers

@dataclass(frozen=True)
class _Received:
    received_at: datetime
    occurred_at: datetime | None = None


def _finish(session: Session, chat_id: int, from_status: tuple[str, ...], now: datetime, by: str, *,
            outcome: str | None = None, quiet_since: datetime | None = None) -> bool:
    query = update(Chat).where(Chat.id == chat_id, Chat.status.in_(from_status))
    if quiet_since is not None:
        query = query.where(Chat.last_message_at <= quiet_since)
    done = bool(session.execute(query.values(status=ENDED, ended_at=now, ended_by=by, outcome=outcome,
                                             reply_token=None, reply_received_at=None)).rowcount)
    if done and WAITING in from_status:
        _nobody_waits_any_more(session, now)
    return done


def _own_active(session: Session, chat_id: int, operator: Operator) -> Chat:
    chat = session.get(Chat, chat_id, with_for_update=True)
    if chat is None or chat.status != ACTIVE:
        raise ChatError("このチャットは対応中ではありません。")
    if chat.operator_id != operator.id:
        raise ChatError("このチャットは他の相談員が対応しています。")
    return chat


def _messages(session: Session, settings: DeskSettings, what: str, text: str,
              template_id: int | None) -> list[m.Message]:
    if what == "text":
        body = text.strip()
        if not body:
            raise ChatError("メッセージを入力してください。")
        if text_length(body) > MAX_TEXT:
            raise ChatError(f"1回に送れるのは{MAX_TEXT:,}文字までです（いま{text_length(body):,}文字）。")
        return [m.text(body)]
    if what == "template":
        template = session.get(ChatTemplate, template_id) if template_id else None
        if template is None:
            raise ChatError("定型文が見つかりません。")
        return [m.text(template.body[:MAX_TEXT])]
    if what == "booking":
        return [m.text("ご都合のよい日時で、相談員とのオンライン相談を予約できます。",
                       [m.postback_action("相談を予約する", texts.BOOK, "相談を予約する")])]
    if what == "faq":
        return [texts.faq_list(settings, faq.in_force(session))]
    raise ChatError("送る内容を選んでください。")


def _tell_user(services: Services, session: Session, chat_id: int, messages: list[m.Message]) -> None:
    chat = session.get(Chat, chat_id)
    user = session.get(LineUser, chat.user_id)
    if not user.blocked:
        queue_answer(session, user, messages, "chat", None, None, None, services)

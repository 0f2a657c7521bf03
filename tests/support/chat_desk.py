"""The desk's side of a chat consultation in tests: operators on duty, and what the user was sent
outside a turn (the operator's messages, the chat's end)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models import Chat, LineUser, Operator, OutboundMessage
from tests.support.chat import actions_in, texts_in


def on_duty(services, email: str = "duty@desk.example.jp", name: str = "当番 相談員", role: str = "counsellor",
            available: bool = True) -> int:
    """An operator who marked themselves available for chat; returns their id."""
    with services.db.transaction() as session:
        operator = Operator(email=email, name=name, role=role, chat_available=available)
        session.add(operator)
        session.flush()
        return operator.id


def operator(session, operator_id: int) -> Operator:
    return session.get(Operator, operator_id)


def chats_of(services, line_user_id: str) -> list[Chat]:
    with services.db.transaction() as session:
        user = session.scalar(select(LineUser).where(LineUser.line_user_id == line_user_id))
        if user is None:
            return []
        return list(session.scalars(select(Chat).where(Chat.user_id == user.id).order_by(Chat.id)))


def queued_for(services, line_user_id: str) -> list[OutboundMessage]:
    """What the desk queued for the user outside their turns, oldest first."""
    with services.db.transaction() as session:
        user = session.scalar(select(LineUser).where(LineUser.line_user_id == line_user_id))
        return list(session.scalars(select(OutboundMessage).where(OutboundMessage.user_id == user.id)
                                    .order_by(OutboundMessage.id)))


def text_of(outbound: OutboundMessage) -> str:
    return "\n".join(texts_in(outbound.messages))


def labels_of(outbound: OutboundMessage) -> list[str]:
    return [a["label"] for a in actions_in(outbound.messages)]


def postback_of(outbound: OutboundMessage, label: str) -> dict[str, Any]:
    return next(a for a in actions_in(outbound.messages) if a["label"] == label)

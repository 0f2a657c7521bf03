"""The simulator's platform memory in the database, so every web process sees the same chats.

Its rows are stamped with LINE's clock (the machine's), not the desk's: the simulator page reads them
against the browser's clock."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from models import SimChatEntry, SimPersona, SimReplyToken, SimRetryKey, SimRichMenu
from models.database import Database

from bot.simulator.platform import month_start, now_utc


class DatabaseStore:
    def __init__(self, db: Database, monthly_limit: int | None = None) -> None:
        self.db = db
        self.monthly_limit = monthly_limit or None  # SIMULATOR_MESSAGE_QUOTA; 0: no limit

    def quota_limit(self) -> int | None:
        return self.monthly_limit

    def pushes_this_month(self) -> int:
        """Pushes accepted since the month began, by their retry keys (the bot sends one with every push)."""
        with self.db.transaction() as session:
            return session.scalar(select(func.count()).select_from(SimRetryKey)
                                  .where(SimRetryKey.created_at >= month_start())) or 0

    def issue_reply_token(self, user_id: str, ttl_seconds: float) -> str:
        token = secrets.token_hex(16)
        with self.db.transaction() as session:
            session.add(SimReplyToken(token=token, chat_user_id=user_id,
                                      expires_at=now_utc() + timedelta(seconds=ttl_seconds)))
        return token

    def take_reply_token(self, token: str) -> str | None:
        with self.db.transaction() as session:
            now = now_utc()
            taken = session.execute(
                update(SimReplyToken)
                .where(SimReplyToken.token == token, SimReplyToken.used_at.is_(None),
                       SimReplyToken.expires_at > now)
                .values(used_at=now)
                .returning(SimReplyToken.chat_user_id)
            ).scalar()
        return taken

    def deliver(self, user_id: str, via: str, messages: list[dict[str, Any]]) -> None:
        with self.db.transaction() as session:
            session.add_all(SimChatEntry(created_at=now_utc(), chat_user_id=user_id, sender="bot", via=via, payload=m) for m in messages)

    def accept_push(self, retry_key: str | None, request_id: str, to: str,
                    messages: list[dict[str, Any]]) -> str | None:
        try:
            with self.db.transaction() as session:
                if retry_key is not None:
                    session.add(SimRetryKey(created_at=now_utc(), retry_key=retry_key, request_id=request_id))
                    session.flush()
                session.add_all(SimChatEntry(created_at=now_utc(), chat_user_id=to, sender="bot", via="push", payload=m)
                                for m in messages)
        except IntegrityError:
            with self.db.transaction() as session:
                return session.get(SimRetryKey, retry_key).request_id
        return None

    def loading(self, user_id: str, seconds: int) -> None:
        with self.db.transaction() as session:
            session.add(SimChatEntry(created_at=now_utc(), chat_user_id=user_id, sender="loading", payload={"seconds": seconds}))

    def profile(self, user_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as session:
            persona = session.get(SimPersona, user_id)
            if persona is None:
                return None
            return {"userId": persona.chat_user_id, "displayName": persona.display_name, "language": "ja"}

    def rich_menus(self) -> list[dict[str, Any]]:
        with self.db.transaction() as session:
            return list(session.scalars(select(SimRichMenu.menu)
                                        .order_by(SimRichMenu.created_at, SimRichMenu.rich_menu_id)))

    def rich_menu(self, rich_menu_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as session:
            return session.scalar(select(SimRichMenu.menu).where(SimRichMenu.rich_menu_id == rich_menu_id))

    def add_rich_menu(self, menu: dict[str, Any]) -> None:
        with self.db.transaction() as session:
            session.add(SimRichMenu(created_at=now_utc(), rich_menu_id=menu["richMenuId"], menu=menu))

    def delete_rich_menu(self, rich_menu_id: str) -> None:
        with self.db.transaction() as session:
            session.execute(delete(SimRichMenu).where(SimRichMenu.rich_menu_id == rich_menu_id))

    def rich_menu_image(self, rich_menu_id: str) -> tuple[str, bytes] | None:
        with self.db.transaction() as session:
            row = session.execute(select(SimRichMenu.content_type, SimRichMenu.image)
                                  .where(SimRichMenu.rich_menu_id == rich_menu_id)).first()
        return (row.content_type, row.image) if row is not None and row.image is not None else None

    def attach_rich_menu_image(self, rich_menu_id: str, content_type: str, image: bytes) -> None:
        with self.db.transaction() as session:
            session.execute(update(SimRichMenu).where(SimRichMenu.rich_menu_id == rich_menu_id)
                            .values(content_type=content_type, image=image))

    def default_rich_menu(self) -> str | None:
        with self.db.transaction() as session:
            return session.scalar(select(SimRichMenu.rich_menu_id).where(SimRichMenu.is_default.is_(True)))

    def set_default_rich_menu(self, rich_menu_id: str | None) -> None:
        with self.db.transaction() as session:
            # One statement, so there is never a moment with two defaults or none in between.
            session.execute(update(SimRichMenu).values(is_default=SimRichMenu.rich_menu_id == rich_menu_id))

    # What the page needs beyond the platform's own behaviour.

    def record_user_action(self, user_id: str, action: dict[str, Any]) -> None:
        with self.db.transaction() as session:
            session.add(SimChatEntry(created_at=now_utc(), chat_user_id=user_id, sender="user", payload=action))

    def chat(self, user_id: str, after: int = 0, limit: int = 200) -> list[dict[str, Any]]:
        with self.db.transaction() as session:
            rows = session.scalars(
                select(SimChatEntry)
                .where(SimChatEntry.chat_user_id == user_id, SimChatEntry.id > after)
                .order_by(SimChatEntry.id)
                .limit(limit)
            ).all()
            return [{"id": r.id, "sender": r.sender, "via": r.via, "payload": r.payload,
                     "created_at": r.created_at.isoformat()} for r in rows]

    def personas(self) -> list[dict[str, str]]:
        with self.db.transaction() as session:
            rows = session.scalars(select(SimPersona).order_by(SimPersona.created_at, SimPersona.chat_user_id))
            return [{"user_id": p.chat_user_id, "display_name": p.display_name} for p in rows]

    def add_persona(self, display_name: str, user_id: str | None = None) -> dict[str, str]:
        user_id = user_id or "U" + secrets.token_hex(16)
        with self.db.transaction() as session:
            if session.get(SimPersona, user_id) is None:
                session.add(SimPersona(created_at=now_utc(), chat_user_id=user_id, display_name=display_name[:40]))
        return {"user_id": user_id, "display_name": display_name[:40]}

"""What the built-in LINE simulator remembers, in the database so every web process shares it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, stamped


class SimChatEntry(Base):
    """A bubble in a simulated chat: what the person did, or what the bot sent."""

    __tablename__ = "sim_chat"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chat_user_id: Mapped[str] = mapped_column(String(64), index=True)
    # user (the person), bot (a reply or push), loading (the loading animation)
    sender: Mapped[str] = mapped_column(String(10))
    via: Mapped[str | None] = mapped_column(String(10))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = stamped()


class SimReplyToken(Base):
    __tablename__ = "sim_reply_tokens"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_user_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SimRetryKey(Base):
    __tablename__ = "sim_retry_keys"

    retry_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = stamped()


class SimPersona(Base):
    """A simulated LINE user the page can switch to."""

    __tablename__ = "sim_personas"

    chat_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = stamped()


class SimRichMenu(Base):
    """A rich menu made through the simulator's Messaging API, with its image once uploaded."""

    __tablename__ = "sim_rich_menus"

    rich_menu_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    menu: Mapped[dict[str, Any]]  # LINE's rich menu object, as created
    content_type: Mapped[str | None] = mapped_column(String(20))
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = stamped()

"""Declarative base shared by every table, with column types that mean the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, event, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, MappedColumn, Session, mapped_column
from sqlalchemy.types import TypeDecorator

# Where a session finds the service's clock (models.database.Database puts it there).
CLOCK = "clock"


def stamped(*, on_update: bool = False) -> MappedColumn[Any]:
    """A time the row records about itself (created, received, updated), taken from the service's
    clock when the row is flushed without one, so it agrees with every rule that reads it."""
    return mapped_column(info={"stamp": "update" if on_update else "insert"})


def _stamped_columns(cls: type) -> list[tuple[str, str]]:
    found = _STAMPED.get(cls)
    if found is None:
        found = [(attr.key, attr.columns[0].info["stamp"]) for attr in inspect(cls).column_attrs
                 if "stamp" in attr.columns[0].info]
        _STAMPED[cls] = found
    return found


_STAMPED: dict[type, list[tuple[str, str]]] = {}


@event.listens_for(Session, "before_flush")
def _stamp(session: Session, _context: Any, _instances: Any) -> None:
    now: datetime | None = None
    for obj, updating in [(o, False) for o in session.new] + [(o, True) for o in session.dirty]:
        for key, when in _stamped_columns(type(obj)):
            if updating and (when != "update" or inspect(obj).attrs[key].history.has_changes()):
                continue
            if not updating and getattr(obj, key) is not None:
                continue
            if now is None:
                clock = session.info.get(CLOCK)
                if clock is None:
                    raise RuntimeError("this session has no clock: open it through models.database.Database")
                now = clock()
            setattr(obj, key, now)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes everywhere: SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDocument,
        list[Any]: JSONDocument,
    }

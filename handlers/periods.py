"""ISO weeks of the Tokyo calendar, and the Tokyo day of a UTC column in SQL: what every weekly
figure (handlers/figures.py, handlers/chat_figures.py) is counted by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, and_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

TOKYO = ZoneInfo("Asia/Tokyo")
DEFAULT_WEEKS = 12
MAX_WEEKS = 106  # two years: the page stays readable and the queries bounded


# -- the Tokyo calendar day of a UTC column, in SQL ---------------------------------------------

class tokyo_day(FunctionElement):  # noqa: N801 (an SQL function)
    """The Asia/Tokyo calendar date of a UTC datetime column (Japan has no daylight saving)."""

    type = Date()
    inherit_cache = True


@compiles(tokyo_day, "sqlite")
def _tokyo_day_sqlite(element, compiler, **kw):  # stored as naive UTC text
    return "date(%s, '+9 hours')" % compiler.process(element.clauses, **kw)


@compiles(tokyo_day, "postgresql")
def _tokyo_day_postgresql(element, compiler, **kw):
    return "CAST((%s AT TIME ZONE 'Asia/Tokyo') AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(tokyo_day)
def _tokyo_day_other(element, compiler, **kw):
    raise NotImplementedError(f"tokyo_day is not written for {compiler.dialect.name}")


def _as_date(value: Any) -> date:
    # SQLite hands the date back as text, PostgreSQL as a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# -- the period -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Week:
    monday: date

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def iso(self) -> str:
        year, week, _ = self.monday.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def short(self) -> str:
        return f"{self.monday.month}/{self.monday.day}"


@dataclass(frozen=True)
class Period:
    """Whole ISO weeks, Monday `start` to Sunday `end` (both Tokyo dates, inclusive)."""

    start: date
    end: date

    @classmethod
    def covering(cls, first: date, last: date) -> "Period":
        if last < first:
            first, last = last, first
        start = first - timedelta(days=first.weekday())
        end = last + timedelta(days=6 - last.weekday())
        if (end - start).days // 7 + 1 > MAX_WEEKS:
            start = end - timedelta(weeks=MAX_WEEKS) + timedelta(days=1)
        return cls(start, end)

    @classmethod
    def last_weeks(cls, today: date, weeks: int = DEFAULT_WEEKS) -> "Period":
        weeks = max(1, min(weeks, MAX_WEEKS))
        return cls.covering(today - timedelta(weeks=weeks - 1), today)

    @property
    def weeks(self) -> list[Week]:
        return [Week(self.start + timedelta(weeks=i)) for i in range((self.end - self.start).days // 7 + 1)]

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time(0), TOKYO)

    @property
    def ends_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(0), TOKYO)

    @property
    def label(self) -> str:
        return f"{self.start:%Y年%m月%d日}〜{self.end:%Y年%m月%d日}"

    @property
    def slug(self) -> str:
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"

    def within(self, column: Any) -> ColumnElement[bool]:
        # A plain range on the column itself, so an index on it can serve the query.
        return and_(column >= self.starts_at, column < self.ends_before)

"""Dates and times as people type them in Japanese chats: 12/1, 12月1日, ２０２６-12-01, 10時半, 1330."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time

_DAY = re.compile(r"^(?:(\d{4})[-/年.])?(\d{1,2})[-/月.](\d{1,2})日?(?:\(.\))?$")
_TIME = re.compile(r"^(\d{1,2})(?:[:：時](\d{2}|半)?分?)?(?:〜.*)?$")


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))[:40]


def parse_day(text: str, today: date) -> date | None:
    """A day on or after `today`; a month/day without a year is the next such day."""
    found = _DAY.match(_clean(text))
    if not found:
        return None
    year, month, day = (int(g) if g else None for g in found.groups())
    try:
        if year is not None:
            return date(year, month, day)
        guess = date(today.year, month, day)
        return guess if guess >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def parse_time(text: str) -> time | None:
    cleaned = _clean(text)
    if re.fullmatch(r"\d{3,4}", cleaned):
        cleaned = f"{cleaned[:-2]}:{cleaned[-2:]}"
    found = _TIME.match(cleaned)
    if not found:
        return None
    hour, minutes = int(found.group(1)), found.group(2)
    minute = 30 if minutes == "半" else int(minutes or 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)

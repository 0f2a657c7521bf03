"""Counsellors as the desk manages them: details, topics, weekly hours, days off, active or not.

Plain Python over a database session, called by the console's views. The booking flow reads the
`counsellors` table on every turn (`handlers/database_desk.py`), so a change here reaches the free slots users
are offered with the transaction that makes it. Every refusal is a polite Japanese sentence for
the form; nothing is saved when any field is refused.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conversations.schedule import TOKYO, WEEKDAYS_JA, BookingRules, to_tokyo
from models import Booking, Counsellor
from models.booking import CONFIRMED
from handlers.operators import end_counsellors_logins

NAME_MAX = 80
EMAIL_MAX = 254
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_WINDOW = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


@dataclass
class CounsellorForm:
    """What the edit form sent, as typed (shown again when something is refused)."""

    name: str = ""
    email: str = ""
    topics: list[str] = field(default_factory=list)
    # Weekday ("0" = Monday) -> the windows as typed, e.g. "10:00-12:00, 13:00-18:30".
    weekly: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form, weekdays: Iterable[int]) -> "CounsellorForm":
        return cls(name=(form.get("name") or "").strip(), email=(form.get("email") or "").strip(),
                   topics=[t for t in form.getlist("topics") if t],
                   weekly={str(d): (form.get(f"weekly_{d}") or "").strip() for d in weekdays})

    @classmethod
    def from_counsellor(cls, counsellor: Counsellor, weekdays: Iterable[int]) -> "CounsellorForm":
        return cls(name=counsellor.name, email=counsellor.email, topics=list(counsellor.topics),
                   weekly={str(d): format_windows(counsellor.weekly.get(str(d), [])) for d in weekdays})


@dataclass
class Checked:
    name: str
    email: str
    topics: list[str]
    weekly: dict[str, list[list[str]]]


def format_windows(windows: list[list[str]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in windows)


def parse_windows(text: str, grid_minutes: int) -> tuple[list[list[str]], str | None]:
    """Windows typed as "10:00-12:00, 13:00-18:30" -> [["10:00", "12:00"], ["13:00", "18:30"]]."""
    text = unicodedata.normalize("NFKC", text)  # full-width digits and colons, as typed on a Japanese keyboard
    text = re.sub(r"\s*[-~〜–—ー]\s*", "-", text).strip()
    if not text:
        return [], None
    windows: list[tuple[time, time]] = []
    for part in re.split(r"[,、;\s]+", text):
        found = _WINDOW.fullmatch(part)
        if found is None:
            return [], f"「{part}」は時間帯として読めません。「10:00-12:00」の形で入力してください。"
        h1, m1, h2, m2 = (int(g) for g in found.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            return [], f"「{part}」の時刻をご確認ください（00:00〜23:59）。"
        if m1 % grid_minutes or m2 % grid_minutes:
            return [], f"「{part}」は{grid_minutes}分単位（例：10:00、10:30）で入力してください。"
        start, end = time(h1, m1), time(h2, m2)
        if start >= end:
            return [], f"「{part}」は終了が開始より後になるように入力してください。"
        windows.append((start, end))
    windows.sort()
    for (_, end), (start, _) in zip(windows, windows[1:]):
        if start < end:
            return [], "時間帯が重なっています。重ならないように入力してください。"
    return [[a.strftime("%H:%M"), b.strftime("%H:%M")] for a, b in windows], None


def check(session: Session, form: CounsellorForm, topics: tuple[str, ...], rules: BookingRules,
          counsellor_id: int | None = None) -> tuple[Checked | None, dict[str, str]]:
    """The form's values, cleaned, or what is wrong with each field."""
    errors: dict[str, str] = {}
    name = " ".join(unicodedata.normalize("NFKC", form.name).split())
    if not name:
        errors["name"] = "お名前を入力してください。"
    elif len(name) > NAME_MAX:
        errors["name"] = f"お名前は{NAME_MAX}文字以内で入力してください。"
    email = unicodedata.normalize("NFKC", form.email).strip().lower()
    if not email:
        errors["email"] = "勤務先のメールアドレスを入力してください。"
    elif len(email) > EMAIL_MAX or not EMAIL.fullmatch(email):
        errors["email"] = "メールアドレスの形をご確認ください（例：name@desk.example.jp）。"
    else:
        other = session.scalar(select(Counsellor.id).where(func.lower(Counsellor.email) == email))
        if other is not None and other != counsellor_id:
            errors["email"] = EMAIL_TAKEN
    unknown = [t for t in form.topics if t not in topics]
    if unknown:
        errors["topics"] = "選べない相談テーマが含まれています。一覧から選んでください。"
    elif not form.topics:
        errors["topics"] = "担当する相談テーマを1つ以上選んでください。"
    weekly: dict[str, list[list[str]]] = {}
    for day, text in form.weekly.items():
        windows, problem = parse_windows(text, rules.session_minutes)
        if problem:
            errors[f"weekly_{day}"] = f"{WEEKDAYS_JA[int(day)]}曜日：{problem}"
        elif windows:
            weekly[day] = windows
    if errors:
        return None, errors
    ordered_topics = [t for t in topics if t in form.topics]
    return Checked(name, email, ordered_topics, weekly), {}


class EmailTaken(Exception):
    """Another operator registered this e-mail address a moment ago (the unique index said so)."""


EMAIL_TAKEN = "このメールアドレスの相談員はすでに登録されています。"


def update(session: Session, counsellor: Counsellor, checked: Checked,
           shown_weekdays: Iterable[int]) -> dict[str, Any]:
    """Save checked values; returns what changed (field -> [before, after]) for the audit log."""
    try:
        with session.begin_nested():
            return apply(counsellor, checked, shown_weekdays)
    except IntegrityError as error:
        # The savepoint's rollback expires the row, so the refused values are not flushed again.
        raise EmailTaken() from error


def apply(counsellor: Counsellor, checked: Checked, shown_weekdays: Iterable[int]) -> dict[str, Any]:
    """Write checked values; returns what changed (field -> [before, after])."""
    shown = {str(d) for d in shown_weekdays}
    # Days the form does not show (the desk is closed then) keep whatever they had.
    weekly = {d: w for d, w in (counsellor.weekly or {}).items() if d not in shown} | checked.weekly
    weekly = dict(sorted(weekly.items()))
    changes: dict[str, Any] = {}
    for name, value in (("name", checked.name), ("email", checked.email), ("topics", checked.topics),
                        ("weekly", weekly)):
        before = getattr(counsellor, name)
        if before != value:
            changes[name] = [before, value]
            setattr(counsellor, name, value)
    return changes


def create(session: Session, checked: Checked, now: datetime) -> Counsellor:
    counsellor = Counsellor(name=checked.name, email=checked.email, topics=checked.topics,
                            weekly=dict(sorted(checked.weekly.items())), days_off=[], active=True, created_at=now)
    try:
        with session.begin_nested():
            session.add(counsellor)
    except IntegrityError as error:
        raise EmailTaken() from error
    return counsellor


# -- bookings that stand in the way ---------------------------------------------------------------

def upcoming_bookings(session: Session, counsellor_id: int, now: datetime, day: date | None = None) -> int:
    """Confirmed sessions of this counsellor still to come (on `day` only, when given)."""
    query = select(func.count()).select_from(Booking).where(
        Booking.counsellor_id == counsellor_id, Booking.status == CONFIRMED, Booking.starts_at > now)
    if day is not None:
        start = datetime.combine(day, time(0), TOKYO)
        query = query.where(Booking.starts_at >= start, Booking.starts_at < start + timedelta(days=1))
    return session.scalar(query) or 0


def set_active(session: Session, counsellor: Counsellor, active: bool, now: datetime) -> int:
    """Deactivate or reactivate; returns the upcoming bookings that refuse a deactivation (0: done)."""
    if not active:
        blocking = upcoming_bookings(session, counsellor.id, now)
        if blocking:
            return blocking
    counsellor.active = active
    if not active:
        end_counsellors_logins(session, counsellor)
    return 0


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(unicodedata.normalize("NFKC", text or "").strip().replace("/", "-"))
    except ValueError:
        return None


def add_day_off(session: Session, counsellor: Counsellor, day: date, now: datetime) -> int:
    """Add a day off; returns the confirmed sessions that day that refuse it (0: added)."""
    blocking = upcoming_bookings(session, counsellor.id, now, day)
    if blocking:
        return blocking
    counsellor.days_off = sorted(set(counsellor.days_off) | {day.isoformat()})
    return 0


def remove_day_off(counsellor: Counsellor, day: date) -> bool:
    if day.isoformat() not in counsellor.days_off:
        return False
    counsellor.days_off = [d for d in counsellor.days_off if d != day.isoformat()]
    return True


def today(now: datetime) -> date:
    return to_tokyo(now).date()

"""The LINE account's monthly message quota: what LINE says is left, what the desk spent it on, the
operator alerts at 80%, 95% and 100%, and the users a push could not reach once it ran out.

Replies are free; pushes count against the quota. LINE's figures (`GET /v2/bot/message/quota` and
`/v2/bot/message/quota/consumption`) are read at most every LINE_QUOTA_REFRESH_MINUTES and cached in
the desk_settings row "line_quota", so however many web processes and workers there are, LINE is
asked once per period: the process that finds the cache stale claims the refresh in the row (locked)
and the others keep showing the cached figures meanwhile. Every worker's periodic work refreshes it,
so the alerts come without anyone opening the console.

Each alert is raised once per month (Asia/Tokyo months, from the service's clock): the months'
thresholds already alerted are kept in the same row, changed under its lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conversations.schedule import TOKYO
from models import Booking, DeskSetting, OutboundMessage
from models.booking import CONFIRMED
from models.outbound_message import FAILED, KINDS, MONTHLY_LIMIT, SENT

from bot.services import Services
from handlers.alerts import QUOTA_80, QUOTA_95, QUOTA_EXHAUSTED, raise_alert

log = logging.getLogger(__name__)

KEY = "line_quota"
# (percent, alert kind): the alerts, each once a month.
THRESHOLDS = ((80, QUOTA_80), (95, QUOTA_95), (100, QUOTA_EXHAUSTED))
# A refresh claimed by a process that then died is taken over after this long.
CLAIM_SECONDS = 60


def month_of(moment: datetime) -> str:
    return moment.astimezone(TOKYO).strftime("%Y-%m")


def month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The Tokyo month around `moment`: [first day 00:00, next month's first day 00:00)."""
    local = moment.astimezone(TOKYO)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


@dataclass(frozen=True)
class QuotaView:
    """What the console shows. `limit` None: LINE sets no target limit (type "none")."""
    month: str
    known: bool  # LINE's figures for this month have been read
    limit: int | None = None
    used: int | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None  # the last attempt to read LINE's figures failed
    exhausted: bool = False  # LINE refused a push this month for the monthly limit

    @property
    def share(self) -> float | None:
        if not self.known or not self.limit or self.used is None:
            return None
        return self.used / self.limit

    @property
    def percent(self) -> int | None:
        share = self.share
        return None if share is None else int(share * 100)

    @property
    def remaining(self) -> int | None:
        if self.limit is None or self.used is None:
            return None
        return max(0, self.limit - self.used)


def _moment(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def view_of(value: dict[str, Any], now: datetime) -> QuotaView:
    month = month_of(now)
    if value.get("month") != month:
        return QuotaView(month, False, failed_at=_moment(value.get("failed_at")))
    return QuotaView(month, value.get("read_at") is not None, value.get("limit"), value.get("used"),
                     _moment(value.get("read_at")), _moment(value.get("failed_at")), bool(value.get("exhausted")))


def _row(session: Session) -> DeskSetting:
    """The cache row, locked for this transaction (made on first use)."""
    query = select(DeskSetting).where(DeskSetting.key == KEY).with_for_update()
    row = session.scalar(query)
    if row is None:
        try:
            with session.begin_nested():
                session.add(DeskSetting(key=KEY, value={}))
        except IntegrityError:  # another process made it first
            pass
        row = session.scalar(query)
    return row


def read(session: Session, now: datetime) -> QuotaView:
    """The cached figures, without asking LINE."""
    row = session.get(DeskSetting, KEY)
    return view_of(dict(row.value or {}) if row is not None else {}, now)


def _alert(session: Session, services: Services, value: dict[str, Any], reached: int, detail: str) -> None:
    """Raise the highest threshold reached that was not yet raised this month (the lower ones count
    as raised: an operator needs one alert, not three, when the month jumps past them)."""
    alerted = set(value.get("alerted") or [])
    due = [(percent, kind) for percent, kind in THRESHOLDS if percent <= reached and percent not in alerted]
    if not due:
        return
    percent, kind = due[-1]
    raise_alert(session, services.config, kind, detail)
    log.warning("operator alert (%s): LINE message quota at %s%%", kind, reached)
    value["alerted"] = sorted(alerted | {p for p, _ in THRESHOLDS if p <= percent})


def _usage_text(limit: int, used: int) -> str:
    return f"今月の送信数 {used} 通／上限 {limit} 通（残り {max(0, limit - used)} 通）"


def refresh(services: Services, *, force: bool = False) -> QuotaView:
    """LINE's figures, from the cache while fresh, else asked of LINE by this process (claimed in the
    row, so one process asks at a time); then the alerts the new figures call for."""
    now = services.clock()
    period = timedelta(minutes=services.config.line_quota_refresh_minutes)
    with services.db.transaction() as session:
        row = _row(session)
        value = dict(row.value or {})
        read_at, claimed_at = _moment(value.get("read_at")), _moment(value.get("claimed_at"))
        fresh = value.get("month") == month_of(now) and read_at is not None and now - read_at < period
        claimed = claimed_at is not None and now - claimed_at < timedelta(seconds=CLAIM_SECONDS)
        if claimed or (fresh and not force):
            return view_of(value, now)
        row.value = {**value, "claimed_at": now.isoformat()}
    reading = services.line.quota()
    with services.db.transaction() as session:
        row = _row(session)
        value = dict(row.value or {})
        value.pop("claimed_at", None)
        now = services.clock()
        if reading is None:
            value["failed_at"] = now.isoformat()
            log.warning("LINE's message quota could not be read; the console shows the last figures")
        else:
            month = month_of(now)
            if value.get("month") != month:
                value = {"month": month, "alerted": []}
            value.update(limit=reading.limit, used=reading.used, read_at=now.isoformat(), failed_at=None)
            if reading.limit:
                _alert(session, services, value, int(reading.used * 100 / reading.limit),
                       f"LINEのメッセージ通数：{_usage_text(reading.limit, reading.used)}。"
                       "上限に達すると参加用リンクやリマインダーが届かなくなります。プランの変更をご検討ください。")
        row.value = value
        return view_of(value, now)


def limit_reached(services: Services, session: Session) -> None:
    """LINE refused a push for the monthly limit (in the caller's transaction): the month counts as
    exhausted, and the 100% alert is raised if it was not yet this month."""
    now = services.clock()
    row = _row(session)
    value = dict(row.value or {})
    month = month_of(now)
    if value.get("month") != month:
        value = {"month": month, "alerted": []}
    value["exhausted"] = True
    _alert(session, services, value, 100,
           "LINEが今月のメッセージ通数の上限に達したため、プッシュ送信を受け付けません。参加用リンクやリマインダーが"
           "届いていない利用者の一覧（コンソールの「LINE通数」）から、お電話でご連絡ください。")
    row.value = value


def sent_this_month(session: Session, now: datetime) -> dict[str, dict[str, int]]:
    """What the service itself delivered this (Tokyo) month: {"push": {kind: n}, "reply": {kind: n}}."""
    start, end = month_bounds(now)
    rows = session.execute(
        select(OutboundMessage.method, OutboundMessage.kind, func.count())
        .where(OutboundMessage.status == SENT, OutboundMessage.sent_at >= start, OutboundMessage.sent_at < end)
        .group_by(OutboundMessage.method, OutboundMessage.kind)).all()
    counts: dict[str, dict[str, int]] = {"push": dict.fromkeys(KINDS, 0), "reply": dict.fromkeys(KINDS, 0)}
    for method, kind, n in rows:
        if method in counts:
            counts[method][kind if kind in KINDS else "notice"] += n
    return counts


@dataclass(frozen=True)
class Unreached:
    """A user a push could not reach this month because the quota ran out: what the console needs
    to send an operator to the pages with their phone number, nothing more."""
    user_id: int
    kinds: tuple[str, ...]
    last_at: datetime
    bookings: tuple[str, ...]  # references of their upcoming confirmed bookings


def unreached_this_month(session: Session, now: datetime, limit: int = 200) -> list[Unreached]:
    start, end = month_bounds(now)
    rows = session.execute(
        select(OutboundMessage.user_id, OutboundMessage.kind, OutboundMessage.created_at)
        .where(OutboundMessage.status == FAILED, OutboundMessage.failure == MONTHLY_LIMIT,
               OutboundMessage.created_at >= start - timedelta(days=1), OutboundMessage.created_at < end)
        .order_by(OutboundMessage.created_at.desc())).all()
    found: dict[int, tuple[list[str], datetime]] = {}
    for user_id, kind, at in rows:
        kinds, last = found.setdefault(user_id, ([], at))
        if (kind or "notice") not in kinds:
            kinds.append(kind or "notice")
    users = list(found)[:limit]
    upcoming: dict[int, list[str]] = {}
    if users:
        for user_id, reference in session.execute(
                select(Booking.user_id, Booking.reference)
                .where(and_(Booking.user_id.in_(users), Booking.status == CONFIRMED, Booking.ends_at > now))
                .order_by(Booking.starts_at)):
            upcoming.setdefault(user_id, []).append(reference)
    return [Unreached(user_id, tuple(found[user_id][0]), found[user_id][1], tuple(upcoming.get(user_id, ())))
            for user_id in users]

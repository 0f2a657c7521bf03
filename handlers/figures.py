"""The desk's figures by ISO week (Asia/Tokyo), with no personal data: fit to publish.

Every figure is a GROUP BY query that returns at most one row per Tokyo day (and per topic or
status), so a year of data comes back as a few hundred small rows whatever the table sizes; days
are then put into ISO weeks in Python. The Tokyo day is a dialect-aware SQL expression (SQLite
stores naive UTC text, PostgreSQL timestamptz). Erased users still count: no figure looks at
personal columns or at `erased_at`.

Plain Python, no Flask: the console page, its CSV export and the tests all call `compute`.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from conversations.flows.booking import BOOKING
from handlers import chat_figures
from handlers.periods import Period, _as_date, tokyo_day
from models import Booking, MessageLog, PolicyConsent
from models.booking import ATTENDED, CANCELLED, NO_SHOW, ON_USER_REQUEST
from models.message_log import INBOUND


# The booking flow's steps as the funnel shows them. "edit" is left out: it is a detour from the
# summary back to an earlier step, not a stage every booking passes through.
FUNNEL_SKIP = ("edit", "reuse")  # reuse: only returning users see it
STEP_LABELS = {
    "topic": "テーマの選択",
    "age": "年齢",
    "date": "日付の選択",
    "time": "時間の選択",
    "name": "お名前",
    "furigana": "フリガナ",
    "email": "メールアドレス",
    "phone": "電話番号",
    "consultation": "ご相談内容",
    "attendant": "同席者",
    "summary": "内容の確認",
}
CONFIRMED_LABEL = "予約確定"
USER = "user"  # Booking.cancelled_by for a self-service cancellation; ON_USER_REQUEST: staff, asked by the user


# -- the figures ----------------------------------------------------------------------------------

@dataclass
class WeekFigures:
    label: str
    first_day: date | None
    last_day: date | None
    new_friends: int = 0
    consents_agreed: int = 0
    consents_declined: int = 0
    confirmed_by_topic: dict[str, int] = field(default_factory=dict)
    cancelled_by_user: int = 0
    cancelled_on_request: int = 0  # by the staff, because the user asked by phone or in person
    cancelled_by_desk: int = 0
    attended: int = 0
    no_show: int = 0

    @property
    def confirmed(self) -> int:
        return sum(self.confirmed_by_topic.values())


@dataclass(frozen=True)
class FunnelStep:
    step: str
    label: str
    reached: int
    dropped: int | None  # since the previous stage; None for the first
    share: str  # of those who reached the first stage, e.g. "62.5%"


@dataclass
class Statistics:
    period: Period
    topics: list[str]
    weeks: list[WeekFigures]
    total: WeekFigures
    funnel: list[FunnelStep]
    chats: list[chat_figures.ChatWeek]  # the weeks, then the total

    # The page's tables and the CSV are both made from these rows, so they always agree.
    def weekly_header(self) -> list[str]:
        return (["週", "開始日", "終了日", "友だち追加", "同意", "同意しない", "予約確定"]
                + [f"予約確定（{topic}）" for topic in self.topics]
                + ["キャンセル（利用者）", "キャンセル（本人の連絡で窓口）", "キャンセル（窓口）", "相談実施", "欠席（連絡なし）"])

    def weekly_rows(self) -> list[list[str | int]]:
        return [self._row(w) for w in self.weeks] + [self._row(self.total)]

    def _row(self, w: WeekFigures) -> list[str | int]:
        return ([w.label, w.first_day.isoformat() if w.first_day else "", w.last_day.isoformat() if w.last_day else "",
                 w.new_friends, w.consents_agreed, w.consents_declined, w.confirmed]
                + [w.confirmed_by_topic.get(topic, 0) for topic in self.topics]
                + [w.cancelled_by_user, w.cancelled_on_request, w.cancelled_by_desk, w.attended, w.no_show])

    @staticmethod
    def funnel_header() -> list[str]:
        return ["予約の段階", "到達した人数", "前の段階からの離脱", "最初の段階に対する割合"]

    def funnel_rows(self) -> list[list[str | int]]:
        return [[s.label, s.reached, "-" if s.dropped is None else s.dropped, s.share] for s in self.funnel]

    @staticmethod
    def chat_header() -> list[str]:
        return chat_figures.HEADER

    def chat_rows(self) -> list[list[str | int]]:
        return [chat_figures.row(w) for w in self.chats]


def funnel_steps() -> list[str]:
    """The booking flow's steps in the flow's own order (what a user is asked, first to last)."""
    return [s.name for s in BOOKING.steps if s.name not in FUNNEL_SKIP]


def compute(session: Session, period: Period, topics: Sequence[str] = ()) -> Statistics:
    by_day: dict[str, dict[date, Any]] = {}

    # New friends: every follow event (also a re-add after a block), as the conversation log has it.
    day = tokyo_day(MessageLog.created_at)
    by_day["new_friends"] = _counts(session.execute(
        select(day, func.count()).where(MessageLog.kind == "follow", MessageLog.direction == INBOUND,
                                        period.within(MessageLog.created_at)).group_by(day)))

    day = tokyo_day(PolicyConsent.created_at)
    consents = session.execute(select(day, PolicyConsent.agreed, func.count())
                               .where(period.within(PolicyConsent.created_at))
                               .group_by(day, PolicyConsent.agreed)).all()
    by_day["consents_agreed"] = _counts((d, n) for d, agreed, n in consents if agreed)
    by_day["consents_declined"] = _counts((d, n) for d, agreed, n in consents if not agreed)

    # Bookings count in the week they were confirmed, whatever became of them later.
    day = tokyo_day(Booking.confirmed_at)
    confirmed = session.execute(select(day, Booking.topic, func.count())
                                .where(Booking.confirmed_at.is_not(None), period.within(Booking.confirmed_at))
                                .group_by(day, Booking.topic)).all()

    # Cancellations of confirmed bookings, in the week they were cancelled.
    day = tokyo_day(Booking.cancelled_at)
    cancelled = session.execute(select(day, Booking.cancelled_by, func.count())
                                .where(Booking.status == CANCELLED, Booking.confirmed_at.is_not(None),
                                       Booking.cancelled_at.is_not(None), period.within(Booking.cancelled_at))
                                .group_by(day, Booking.cancelled_by)).all()
    by_day["cancelled_by_user"] = _counts((d, n) for d, by, n in cancelled if by == USER)
    by_day["cancelled_on_request"] = _counts((d, n) for d, by, n in cancelled if by in ON_USER_REQUEST)
    by_day["cancelled_by_desk"] = _counts((d, n) for d, by, n in cancelled
                                          if by != USER and by not in ON_USER_REQUEST)

    # Attended and no-show sessions, in the week the session was.
    day = tokyo_day(Booking.starts_at)
    outcomes = session.execute(select(day, Booking.status, func.count())
                               .where(Booking.status.in_((ATTENDED, NO_SHOW)), period.within(Booking.starts_at))
                               .group_by(day, Booking.status)).all()
    by_day["attended"] = _counts((d, n) for d, status, n in outcomes if status == ATTENDED)
    by_day["no_show"] = _counts((d, n) for d, status, n in outcomes if status == NO_SHOW)

    all_topics = list(topics) + sorted({t for _, t, _ in confirmed} - set(topics))
    weeks = period.weeks
    figures = [WeekFigures(w.iso, w.monday, w.sunday, confirmed_by_topic={t: 0 for t in all_topics}) for w in weeks]
    index = {w.monday: i for i, w in enumerate(weeks)}

    def week_of(d: Any) -> WeekFigures:
        d = _as_date(d)
        return figures[index[d - timedelta(days=d.weekday())]]

    for name, counts in by_day.items():
        for d, n in counts.items():
            target = week_of(d)
            setattr(target, name, getattr(target, name) + n)
    for d, topic, n in confirmed:
        week_of(d).confirmed_by_topic[topic] += n

    total = WeekFigures("合計", period.start, period.end, confirmed_by_topic={t: 0 for t in all_topics})
    for w in figures:
        for name in by_day:
            setattr(total, name, getattr(total, name) + getattr(w, name))
        for topic, n in w.confirmed_by_topic.items():
            total.confirmed_by_topic[topic] += n

    return Statistics(period, all_topics, figures, total, _funnel(session, period), chat_figures.compute(session, period))


def _counts(rows: Iterable[Any]) -> dict[date, int]:
    counts: dict[date, int] = defaultdict(int)
    for d, n in rows:
        counts[_as_date(d)] += n
    return counts


def _funnel(session: Session, period: Period) -> list[FunnelStep]:
    """How many distinct users reached each step of the booking flow in the period, then confirmed.

    A user reached a step when the log holds a message of that step (the question sent, or their
    answer to it), so going back and forth counts a user once per step.
    """
    steps = funnel_steps()
    reached = dict(session.execute(
        select(MessageLog.step, func.count(distinct(MessageLog.user_id)))
        .where(MessageLog.flow == BOOKING.name, MessageLog.step.in_(steps), period.within(MessageLog.created_at))
        .group_by(MessageLog.step)).all())
    confirmed = session.scalar(select(func.count(distinct(Booking.user_id)))
                               .where(Booking.confirmed_at.is_not(None), period.within(Booking.confirmed_at))) or 0
    stages = [(step, STEP_LABELS.get(step, step), int(reached.get(step, 0))) for step in steps]
    stages.append(("confirmed", CONFIRMED_LABEL, int(confirmed)))
    first = stages[0][2]
    result: list[FunnelStep] = []
    for i, (step, label, n) in enumerate(stages):
        dropped = None if i == 0 else max(stages[i - 1][2] - n, 0)
        share = f"{n * 100 / first:.1f}%" if first else "-"
        result.append(FunnelStep(step, label, n, dropped, share))
    return result


# -- CSV ------------------------------------------------------------------------------------------

def to_csv(stats: Statistics) -> bytes:
    """The same tables as the page: weekly figures, the booking funnel, then chat consultation,
    each after a blank line.

    UTF-8 with a BOM, so that Excel opens the Japanese headings correctly.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(stats.weekly_header())
    writer.writerows(_safe(row) for row in stats.weekly_rows())
    writer.writerow([])
    writer.writerow(stats.funnel_header())
    writer.writerows(_safe(row) for row in stats.funnel_rows())
    writer.writerow([])
    writer.writerow(stats.chat_header())
    writer.writerows(_safe(row) for row in stats.chat_rows())
    return out.getvalue().encode("utf-8-sig")


def _safe(row: list[str | int]) -> list[str | int]:
    # A topic comes from configuration, but a cell starting with = + - @ would still run as a
    # formula in a spreadsheet: quote it.
    return [f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") and v != "-" else v for v in row]

"""Chat consultation's figures by ISO week (Asia/Tokyo), with no personal data: how many asked,
how long they waited, how many gave up waiting, how chats ended and how users rated them.

A chat counts in the week it was requested. Wait times are of answered chats, from the request to
an operator taking it. Plain Python, no Flask, like handlers/figures.py whose periods it shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations.schedule import to_tokyo
from handlers.periods import Period
from models import Chat
from models.chat import LEFT_LINE, NOBODY_CAME, OUTCOMES


@dataclass
class ChatWeek:
    label: str
    first_day: date | None
    last_day: date | None
    requested: int = 0
    answered: int = 0
    abandoned: int = 0  # left the line, or nobody took the chat in time
    waits: list[float] = field(default_factory=list)  # minutes, of answered chats
    outcomes: dict[str, int] = field(default_factory=lambda: {key: 0 for key in OUTCOMES})
    ratings: list[int] = field(default_factory=list)

    def wait(self, share: float) -> str:
        """The wait that `share` of answered chats did not exceed (nearest rank), in minutes."""
        if not self.waits:
            return "-"
        ordered = sorted(self.waits)
        return f"{ordered[max(math.ceil(share * len(ordered)) - 1, 0)]:.1f}"

    @property
    def satisfaction(self) -> str:
        return f"{sum(self.ratings) / len(self.ratings):.1f}" if self.ratings else "-"

    def add(self, other: "ChatWeek") -> None:
        self.requested += other.requested
        self.answered += other.answered
        self.abandoned += other.abandoned
        self.waits += other.waits
        self.ratings += other.ratings
        for key, n in other.outcomes.items():
            self.outcomes[key] += n


HEADER = (["週", "チャット相談の申込", "対応", "待っている間に終了", "待ち時間 中央値（分）", "待ち時間 90%（分）"]
          + [f"終了：{label}" for label in OUTCOMES.values()] + ["満足度 平均（5段階）", "満足度 回答数"])


def row(w: ChatWeek) -> list[str | int]:
    return ([w.label, w.requested, w.answered, w.abandoned, w.wait(0.5), w.wait(0.9)]
            + [w.outcomes[key] for key in OUTCOMES] + [w.satisfaction, len(w.ratings)])


def compute(session: Session, period: Period) -> list[ChatWeek]:
    """One ChatWeek per week of the period, then the total."""
    weeks = [ChatWeek(w.iso, w.monday, w.sunday) for w in period.weeks]
    index = {w.first_day: w for w in weeks}
    found = session.execute(select(Chat.requested_at, Chat.taken_at, Chat.ended_by, Chat.outcome, Chat.satisfaction)
                            .where(period.within(Chat.requested_at)))
    for requested_at, taken_at, ended_by, outcome, satisfaction in found:
        day = to_tokyo(requested_at).date()
        week = index[day - timedelta(days=day.weekday())]
        week.requested += 1
        if taken_at is not None:
            week.answered += 1
            week.waits.append((taken_at - requested_at).total_seconds() / 60)
        elif ended_by in (LEFT_LINE, NOBODY_CAME):
            week.abandoned += 1
        if outcome in week.outcomes:
            week.outcomes[outcome] += 1
        if satisfaction is not None:
            week.ratings.append(satisfaction)
    total = ChatWeek("合計", period.start, period.end)
    for week in weeks:
        total.add(week)
    return weeks + [total]

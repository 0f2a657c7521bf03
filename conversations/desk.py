"""What the conversation needs from the desk: the port the flows call, and its plain values.

The flows only see this protocol; `handlers/database_desk.py` implements it over the database. Everything here
is about one user, the one whose turn it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from conversations.chat_hours import ChatSettings
from conversations.crisis import DEFAULT_CRISIS_WORDS
from conversations.faq import FaqEntry
from conversations.policy import PolicyDocument
from conversations.schedule import DEFAULT_RULES, BookingRules

DEMO_TOPICS = ("キャリア・転職", "収入・家計", "職場の悩み・労働条件", "その他")
DEMO_HOTLINES = (
    "よりそいホットライン 0120-279-338（24時間・無料）",
    "いのちの電話 0570-783-556（10:00〜22:00・通話料がかかります）",
    "こころの健康相談統一ダイヤル 0570-064-556（受付時間は都道府県により異なります）",
    "SNSでの相談：厚生労働省「まもろうよ こころ」 https://www.mhlw.go.jp/mamorouyokokoro/",
)


@dataclass(frozen=True)
class DeskSettings:
    desk_name: str = "みらいキャリアポート"
    phone: str = "043-000-0000"
    phone_hours: str = "平日10:00〜18:30"
    address: str = "〒260-0000 千葉県千葉市中央区（デモの住所）"
    topics: tuple[str, ...] = DEMO_TOPICS
    age_min: int = 15
    age_max: int = 39
    # Where the age step sends someone the desk cannot serve (figures live here, not in the texts).
    under_age_contact: str = "24時間子供SOSダイヤル（0120-0-78310、通話無料）"
    over_age_contact: str = "お近くのハローワーク"
    consultation_limit: int = 400
    # The seeds' 10-minute rule: this long after the start without the user, the session counts as
    # a no-show (users are told in the confirmation and the reminder an hour before).
    late_minutes: int = 10
    # On the day, a user who cannot come may cancel on LINE (SAME_DAY_CANCEL_ON_LINE); off, as the
    # seeds say, they are asked to call and the counsellor is told.
    same_day_cancel_on_line: bool = False
    flow_timeout_minutes: int = 30
    policy_url: str = "http://127.0.0.1:8000/policy"
    hotlines: tuple[str, ...] = DEMO_HOTLINES
    crisis_words: tuple[str, ...] = DEFAULT_CRISIS_WORDS
    emergency_number: str = "119"
    # Lateness without contact after which a session counts as a no-show, and how many no-shows
    # stop booking (Config's no_show_after_minutes and no_show_limit, copied here for the texts).
    late_minutes: int = 10
    no_show_limit: int = 2
    rules: BookingRules = field(default_factory=lambda: DEFAULT_RULES)
    chat: ChatSettings = field(default_factory=ChatSettings)


@dataclass(frozen=True)
class Hold:
    reference: str
    slot: datetime
    expires_at: datetime


@dataclass(frozen=True)
class BookingView:
    reference: str
    topic: str
    slot: datetime
    self_cancellable: bool
    # The date and time can still be changed on LINE: the booking cut-off of the current slot has not passed.
    reschedulable: bool = False
    # The session is today (Tokyo) and has not ended: 遅れる・参加できない is offered.
    today: bool = False
    # 予定に追加: a signed, expiring link to the booking's .ics file (set on confirmation).
    calendar_url: str | None = None


@dataclass(frozen=True)
class BookingDetails:
    topic: str
    slot: datetime
    name: str
    furigana: str
    age: int
    email: str
    phone: str
    consultation: str
    # The consultation text used words of crisis: the counsellor sees the booking marked.
    attention: bool = False
    attendant: str | None = None


@dataclass(frozen=True)
class PreviousDetails:
    """What a returning user gave at their last booking, offered for reuse."""

    name: str
    furigana: str
    email: str
    phone: str


@dataclass(frozen=True)
class Confirmed:
    booking: BookingView


@dataclass(frozen=True)
class SlotLost:
    """The hold ran out and somebody else took the time meanwhile."""


@dataclass(frozen=True)
class LimitReached:
    active: int


@dataclass(frozen=True)
class Maintenance:
    notice: str
    until: str | None


@dataclass(frozen=True)
class ChatView:
    """The user's open chat: waiting in line (`ahead` others before them) or with an operator."""

    id: int
    waiting: bool
    ahead: int = 0


@dataclass(frozen=True)
class ChatClosed:
    """Nobody can take a chat now: outside the chat hours, or nobody is available."""

    outside_hours: bool
    next_opening: datetime | None


class Desk(Protocol):
    settings: DeskSettings

    def now(self) -> datetime: ...
    def policy(self) -> PolicyDocument: ...
    def has_agreed(self, version: str) -> bool: ...
    def record_consent(self, version: str, agreed: bool) -> None: ...
    def maintenance(self) -> Maintenance | None: ...
    def restriction(self) -> str | None: ...
    def flag_crisis(self) -> None: ...
    def chat_open(self) -> bool: ...
    def current_chat(self) -> ChatView | None: ...
    def request_chat(self) -> ChatView | ChatClosed: ...
    def chat_said(self) -> None: ...
    def leave_chat(self) -> bool: ...
    def end_chat(self) -> int | None: ...
    def rate_chat(self, chat_id: int, score: int) -> bool: ...
    def faq_entries(self) -> list[FaqEntry]: ...
    def free_days(self, topic: str) -> list[date]: ...
    def free_slots(self, topic: str, day: date) -> list[datetime]: ...
    def hold(self, topic: str, slot: datetime) -> Hold | None: ...
    def release_hold(self) -> None: ...
    def confirm(self, details: BookingDetails) -> Confirmed | SlotLost | LimitReached: ...
    def active_bookings(self) -> list[BookingView]: ...
    def cancel(self, reference: str) -> BookingView | None: ...
    # Move a booking to the slot this user holds (or, the hold lapsed, to that slot if still free);
    # None: it can no longer be changed (its cut-off passed, or it is no longer active).
    def reschedule(self, reference: str, slot: datetime) -> BookingView | SlotLost | None: ...
    # Today's sessions of this user that have not ended (also those already started).
    def todays_bookings(self) -> list[BookingView]: ...
    # The name, reading, e-mail and phone of this user's last confirmed booking, if still kept.
    def previous_details(self) -> PreviousDetails | None: ...
    # The user's contact on the day: recorded on the booking, the counsellor alerted. None: no such
    # session today. report_absent cancels the booking when same_day_cancel_on_line is on.
    def report_late(self, reference: str, minutes: int) -> BookingView | None: ...
    def report_absent(self, reference: str) -> BookingView | None: ...

"""The desk as the conversation sees it (`conversations.desk.Desk`), over the database.

One instance serves one user's turn, inside that turn's transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Callable

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conversations import availability
from conversations.desk import (
    BookingDetails,
    BookingView,
    ChatClosed,
    ChatView,
    Confirmed,
    DeskSettings,
    Hold,
    LimitReached,
    Maintenance,
    PreviousDetails,
    SlotLost,
)
from conversations.policy import PolicyDocument, policy_in_force
from conversations.schedule import bookable, bookable_days, can_reschedule, can_self_cancel, to_tokyo
from conversations.faq import FaqEntry
from models import Booking, Counsellor, DeskSetting, LineUser, OperatorAlert, PolicyConsent
from models.booking import ABSENT, CANCELLED, CONFIRMED, EXPIRED, HELD, LATE, RELEASED
from models.desk_setting import MAINTENANCE

from bot.config import Config
from handlers import alerts, calendar_links, chats, faq, handoff
from handlers.alerts import SAME_DAY_ABSENT, SAME_DAY_LATE, raise_alert

REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on the phone


def new_reference() -> str:
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def _windows(weekly: dict) -> dict[int, tuple[tuple[time, time], ...]]:
    return {int(day): tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in windows)
            for day, windows in weekly.items()}


# Every turn asks these: built once, against the tables (building an ORM query per call, and
# loading its object, cost more than the query itself).
_CONSENTS, _SETTINGS = PolicyConsent.__table__.c, DeskSetting.__table__.c
_AGREED = (select(_CONSENTS.agreed)
           .where(_CONSENTS.user_id == bindparam("user_id"), _CONSENTS.policy_version == bindparam("version"))
           .order_by(_CONSENTS.id.desc()).limit(1))
_MAINTENANCE = select(_SETTINGS.value).where(_SETTINGS.key == MAINTENANCE)


@dataclass
class Known:
    """What the turn's first query already read for the desk (handlers/turns.py), in its transaction,
    so the desk asks only when the turn has changed it since (a consent recorded, a chat begun)."""
    maintenance: dict | None
    # The user's latest consent, of any version: the latest of its own version too.
    consent_version: str | None
    consent_agreed: bool | None
    has_open_chat: bool


class DatabaseDesk:
    def __init__(self, session: Session, user: LineUser, settings: DeskSettings,
                 policies: list[PolicyDocument], clock: Callable[[], datetime], *, demo_counsellors: bool = True,
                 config: Config, known: Known | None = None) -> None:
        self.session, self.user, self.settings, self.config = session, user, settings, config
        self._policies, self._clock, self._demo_counsellors = policies, clock, demo_counsellors
        self._counsellors: list[availability.Counsellor] | None = None
        self._known = known

    def now(self) -> datetime:
        return self._clock()

    def _forget(self) -> None:
        """The turn changes what `Known` holds: ask the database from here on."""
        self._known = None

    # Consent, restrictions, safety, pause

    def policy(self) -> PolicyDocument:
        return policy_in_force(self._policies, to_tokyo(self.now()).date()) or self._policies[0]

    def has_agreed(self, version: str) -> bool:
        known = self._known
        if known is not None and known.consent_version in (None, version):
            return bool(known.consent_agreed)  # no consent at all, or the latest is of this version
        return bool(self.session.scalar(_AGREED, {"user_id": self.user.id, "version": version}))

    def record_consent(self, version: str, agreed: bool) -> None:
        self._forget()
        self.session.add(PolicyConsent(user_id=self.user.id, policy_version=version, agreed=agreed,
                                       method="button", created_at=self.now()))

    def maintenance(self) -> Maintenance | None:
        value = self._known.maintenance if self._known is not None else self.session.scalar(_MAINTENANCE)
        if not value or not value.get("on"):
            return None
        return Maintenance(value.get("notice") or "", value.get("until"))

    def restriction(self) -> str | None:
        if self.user.restricted_at is None:
            return None
        if self.user.restricted_until is not None and self.user.restricted_until <= self.now():
            # Its end has come: it lifts by itself (the user was told the date), before the sweep does.
            self.user.restricted_at = self.user.restriction_reason = self.user.restricted_until = None
            return None
        return self.user.restriction_reason or "restricted"

    def flag_crisis(self) -> None:
        """Flags the user and alerts the operators at once, without a word of what was written."""
        self.user.flagged_at = self.now()
        chats.mark_crisis(self.session, self.user.id)
        message = (f"利用者番号 {self.user.id} のメッセージに、危機を示す言葉がありました。"
                   "会話の画面で確認し、必要な対応をしてください。")
        already = self.session.scalar(select(OperatorAlert.id).where(
            OperatorAlert.kind == alerts.CRISIS_WORDS, OperatorAlert.resolved_at.is_(None),
            OperatorAlert.message == message))
        if already is None:
            alerts.raise_alert(self.session, self.config, alerts.CRISIS_WORDS, message)

    def faq_entries(self) -> list[FaqEntry]:
        return faq.in_force(self.session)

    # Chat with a counsellor (handlers/chats.py)

    def chat_open(self) -> bool:
        return chats.is_open(self.session, self.settings, self.now())

    def current_chat(self) -> ChatView | None:
        if self._known is not None and not self._known.has_open_chat:
            return None
        chat = chats.open_chat_of(self.session, self.user.id)
        return chats.view(self.session, chat) if chat is not None else None

    def request_chat(self) -> ChatView | ChatClosed:
        self._forget()
        return chats.request(self.session, self.config, self.user, self.settings, self.now())

    def chat_said(self) -> None:
        chats.user_wrote(self.session, self.user.id, self.now())

    def leave_chat(self) -> bool:
        self._forget()
        return chats.end_by_user(self.session, self.user.id, self.now(), left=True) is not None

    def end_chat(self) -> int | None:
        self._forget()
        return chats.end_by_user(self.session, self.user.id, self.now())

    def rate_chat(self, chat_id: int, score: int) -> bool:
        return chats.rate(self.session, self.user.id, chat_id, score)

    # Slots

    def _active_counsellors(self) -> list[availability.Counsellor]:
        if self._counsellors is None:
            query = select(Counsellor).where(Counsellor.active.is_(True)).order_by(Counsellor.id)
            if not self._demo_counsellors:
                query = query.where(Counsellor.demo.is_(False))
            rows = self.session.scalars(query)
            self._counsellors = [
                availability.Counsellor(c.id, c.name, frozenset(c.topics), _windows(c.weekly), c.days_off_set())
                for c in rows]
        return self._counsellors

    def _taken(self, start: datetime, end: datetime) -> availability.Taken:
        """Slots other people hold or have booked; this user's own hold stays choosable for them."""
        now = self.now()
        rows = self.session.execute(
            select(Booking.counsellor_id, Booking.starts_at).where(
                Booking.starts_at >= start, Booking.starts_at < end,
                (Booking.status == CONFIRMED)
                | ((Booking.status == HELD) & (Booking.hold_expires_at > now) & (Booking.user_id != self.user.id)),
            ))
        return {(cid, starts) for cid, starts in rows}

    def free_days(self, topic: str) -> list[date]:
        now, rules = self.now(), self.settings.rules
        taken = self._taken(now, now + timedelta(days=rules.horizon_days + 2))
        counsellors = [c for c in self._active_counsellors() if topic in c.topics]
        return [d for d in bookable_days(now, rules)
                if availability.free_slots(d, topic, counsellors, taken, rules, now)]

    def free_slots(self, topic: str, day: date) -> list[datetime]:
        now, rules = self.now(), self.settings.rules
        start = datetime.combine(day, time(0), tzinfo=to_tokyo(now).tzinfo)
        taken = self._taken(start, start + timedelta(days=1))
        return availability.free_slots(day, topic, self._active_counsellors(), taken, rules, now)

    def hold(self, topic: str, slot: datetime) -> Hold | None:
        now = self.now()
        self.release_hold()
        self.session.execute(
            update(Booking).where(Booking.status == HELD, Booking.starts_at == slot, Booking.hold_expires_at <= now)
            .values(status=EXPIRED))
        rules = self.settings.rules
        for _ in range(3):
            taken = self._taken(slot, slot + timedelta(seconds=1))
            counsellor = availability.assign(slot, topic, self._active_counsellors(), taken, rules, now)
            if counsellor is None:
                return None
            booking = Booking(
                reference=new_reference(), user_id=self.user.id, counsellor_id=counsellor.id, topic=topic,
                starts_at=slot, ends_at=slot + timedelta(minutes=rules.session_minutes), status=HELD,
                hold_expires_at=now + timedelta(minutes=rules.hold_minutes), created_at=now)
            try:
                with self.session.begin_nested():
                    self.session.add(booking)
            except IntegrityError:
                continue  # someone took this counsellor's slot a moment ago: look again
            return Hold(booking.reference, slot, booking.hold_expires_at)
        return None

    def release_hold(self) -> None:
        self.session.execute(
            update(Booking).where(Booking.user_id == self.user.id, Booking.status == HELD).values(status=RELEASED))

    # Bookings

    def _active(self) -> list[Booking]:
        return list(self.session.scalars(
            select(Booking).where(Booking.user_id == self.user.id, Booking.status == CONFIRMED,
                                  Booking.starts_at > self.now()).order_by(Booking.starts_at)))

    def _view(self, booking: Booking) -> BookingView:
        now, rules = self.now(), self.settings.rules
        today = to_tokyo(booking.starts_at).date() == to_tokyo(now).date() and booking.ends_at > now
        return BookingView(booking.reference, booking.topic, booking.starts_at,
                           can_self_cancel(booking.starts_at, now, rules), can_reschedule(booking.starts_at, now, rules),
                           today)

    def active_bookings(self) -> list[BookingView]:
        return [self._view(b) for b in self._active()]

    def confirm(self, details: BookingDetails) -> Confirmed | SlotLost | LimitReached:
        now = self.now()
        active = len(self._active())
        if active >= self.settings.rules.max_active_bookings_per_user:
            return LimitReached(active)
        # A lapsed hold still marked held was claimed by nobody: anyone taking the slot first marks
        # lapsed holds expired. So it is still this user's to confirm.
        booking = self.session.scalar(
            select(Booking).where(Booking.user_id == self.user.id, Booking.status == HELD,
                                  Booking.starts_at == details.slot))
        # Claim it only if it is still held when the row is locked: another user taking the slot
        # may have marked the lapsed hold expired since it was read, and overwriting that would
        # collide with their hold (an IntegrityError instead of "choose again").
        if booking is not None and not self.session.execute(
                update(Booking).where(Booking.id == booking.id, Booking.status == HELD)
                .values(status=CONFIRMED).execution_options(synchronize_session=False)).rowcount:
            booking = None
        if booking is None:
            held = self.hold(details.topic, details.slot)
            if held is None:
                return SlotLost()
            booking = self.session.scalar(select(Booking).where(Booking.reference == held.reference))
        booking.status, booking.confirmed_at, booking.hold_expires_at = CONFIRMED, now, None
        booking.topic = details.topic
        booking.name, booking.furigana, booking.age = details.name, details.furigana, details.age
        booking.email, booking.phone, booking.consultation = details.email, details.phone, details.consultation
        booking.attention = details.attention
        booking.attendant = details.attendant
        self.session.flush()
        handoff.enqueue_create(self.session, booking, before_answer=True)
        url = calendar_links.url_for_booking(booking, self.config.secret_key, self.config.public_base_url)
        return Confirmed(replace(self._view(booking), calendar_url=url))

    def cancel(self, reference: str) -> BookingView | None:
        booking = next((b for b in self._active() if b.reference == reference), None)
        if booking is None or not can_self_cancel(booking.starts_at, self.now(), self.settings.rules):
            return None
        booking.status, booking.cancelled_at, booking.cancelled_by = CANCELLED, self.now(), "user"
        handoff.enqueue_cancel(self.session, booking, "相談者からのキャンセルにより、このオンライン相談はキャンセルとなりました。")
        return self._view(booking)

    def previous_details(self) -> PreviousDetails | None:
        row = self.session.execute(
            select(Booking.name, Booking.furigana, Booking.email, Booking.phone)
            .where(Booking.user_id == self.user.id, Booking.confirmed_at.is_not(None), Booking.name.is_not(None),
                   Booking.furigana.is_not(None), Booking.email.is_not(None), Booking.phone.is_not(None))
            .order_by(Booking.confirmed_at.desc()).limit(1)).first()
        return PreviousDetails(*row) if row is not None else None

    # The day of the session

    def _today(self) -> list[Booking]:
        now = self.now()
        midnight = datetime.combine(to_tokyo(now).date() + timedelta(days=1), time(0), tzinfo=to_tokyo(now).tzinfo)
        return list(self.session.scalars(
            select(Booking).where(Booking.user_id == self.user.id, Booking.status == CONFIRMED,
                                  Booking.ends_at > now, Booking.starts_at < midnight).order_by(Booking.starts_at)))

    def todays_bookings(self) -> list[BookingView]:
        return [self._view(b) for b in self._today()]

    def _contact(self, reference: str, contact: str, minutes: int | None) -> Booking | None:
        booking = next((b for b in self._today() if b.reference == reference), None)
        if booking is None:
            return None
        booking.same_day_contact, booking.late_minutes, booking.same_day_contact_at = contact, minutes, self.now()
        return booking

    def report_late(self, reference: str, minutes: int) -> BookingView | None:
        booking = self._contact(reference, LATE, minutes)
        if booking is None:
            return None
        # No personal data: the reference and the time lead the counsellor to the booking in the console.
        raise_alert(self.session, self.config, SAME_DAY_LATE,
                    f"Booking {booking.reference} ({to_tokyo(booking.starts_at):%Y-%m-%d %H:%M}): the user says "
                    f"they will be about {minutes} minutes late.", booking.id)
        return self._view(booking)

    def report_absent(self, reference: str) -> BookingView | None:
        booking = self._contact(reference, ABSENT, None)
        if booking is None:
            return None
        cancelled = self.settings.same_day_cancel_on_line
        if cancelled:
            booking.status, booking.cancelled_at, booking.cancelled_by = CANCELLED, self.now(), "user"
            handoff.enqueue_cancel(self.session, booking,
                                   "相談者から当日キャンセルのご連絡があり、このオンライン相談はキャンセルとなりました。")
        raise_alert(self.session, self.config, SAME_DAY_ABSENT,
                    f"Booking {booking.reference} ({to_tokyo(booking.starts_at):%Y-%m-%d %H:%M}): the user says "
                    f"they cannot come today" + (" (cancelled on LINE)." if cancelled else "."), booking.id)
        return self._view(booking)

    def reschedule(self, reference: str, slot: datetime) -> BookingView | SlotLost | None:
        """Move the booking (same row, same reference, same Teams event) to `slot`.

        The booking is locked first (on PostgreSQL), so a reschedule and a cancellation of it never
        interleave. The new slot is the one this user holds; should the hold have lapsed, the slot
        is taken anew if still free. The unique index on a counsellor's live slots is what finally
        decides a race: of two users wanting the slot, only one row can occupy it.
        """
        now, rules = self.now(), self.settings.rules
        booking = self.session.scalar(
            select(Booking).where(Booking.reference == reference, Booking.user_id == self.user.id).with_for_update())
        if (booking is None or booking.status != CONFIRMED or booking.starts_at <= now
                or not can_reschedule(booking.starts_at, now, rules)):
            return None
        if slot == booking.starts_at or not bookable(slot, now, rules):
            return SlotLost()
        held = self.session.scalar(select(Booking).where(Booking.user_id == self.user.id, Booking.status == HELD,
                                                         Booking.starts_at == slot))
        counsellor_id = held.counsellor_id if held is not None else None
        if held is not None and not self.session.execute(
                update(Booking).where(Booking.id == held.id, Booking.status == HELD).values(status=RELEASED)
                .execution_options(synchronize_session=False)).rowcount:
            counsellor_id = None  # someone marked the lapsed hold expired meanwhile: look again
        if counsellor_id is None:
            self.session.execute(
                update(Booking).where(Booking.status == HELD, Booking.starts_at == slot, Booking.hold_expires_at <= now)
                .values(status=EXPIRED))
            counsellor = availability.assign(slot, booking.topic, self._active_counsellors(),
                                             self._taken(slot, slot + timedelta(seconds=1)), rules, now)
            if counsellor is None:
                return SlotLost()
            counsellor_id = counsellor.id
        try:
            with self.session.begin_nested():
                booking.counsellor_id, booking.starts_at = counsellor_id, slot
                booking.ends_at = slot + timedelta(minutes=rules.session_minutes)
                # The reminders are for the new time.
                booking.reminded_day_before_at = booking.reminded_hour_before_at = None
                self.session.flush()
        except IntegrityError:
            return SlotLost()
        handoff.enqueue_update(self.session, booking)
        return self._view(booking)

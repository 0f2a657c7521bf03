"""What an operator can do to a LINE user: restrict booking, lift a restriction, erase personal data,
and mark a crisis flag handled.

Plain Python over a SQLAlchemy session (no Flask): the caller owns the transaction, records the
audit entry in it, and so the change, the LINE notice and the audit commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from conversations import notices
from models import (Booking, Chat, ConversationState, LineUser, LocalMeeting, MessageLog, OperatorAlert,
                    OutboundMessage, WebhookEvent)
from models.database import now_in
from models.booking import CONFIRMED, HELD
from models.outbound_message import PENDING

from bot.line.outbox import queue_answer
from bot.services import Services
from handlers.alerts import NO_SHOW_REVIEW

MAX_REASON = 500


class UserActionError(ValueError):
    """The action cannot be done as asked; the message is for the operator (Japanese)."""


def _user(session: Session, user_id: int) -> LineUser:
    user = session.get(LineUser, user_id)
    if user is None:
        raise UserActionError("利用者が見つかりません。")
    return user


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise UserActionError("理由を入力してください。")
    if len(reason) > MAX_REASON:
        raise UserActionError(f"理由は{MAX_REASON}文字以内で入力してください。")
    return reason


# -- restriction ---------------------------------------------------------------------------------

def restrict(session: Session, services: Services, user_id: int, reason: str | None, now: datetime,
             until: datetime | None = None) -> LineUser:
    """Refuse the user further bookings (the engine checks restricted_at) and tell them on LINE.
    With `until`, the restriction lifts by itself then, and the user is told the date."""
    reason = _reason(reason)
    user = _user(session, user_id)
    if user.restricted_at is not None:
        raise UserActionError("この利用者はすでに予約を制限されています。")
    if until is not None and until <= now:
        raise UserActionError("制限の終了日は、明日以降の日付を入力してください。")
    user.restricted_at, user.restriction_reason, user.restricted_until = now, reason, until
    if user.no_show_review_at is not None:  # the operator's decision after repeated no-shows
        user.no_show_review_at = None
        _resolve_no_show_alerts(session, user.id)
    if not user.blocked:  # nothing may be pushed to a user who blocked the account
        queue_answer(session, user, notices.restricted_by_desk(services.desk_settings, until),
                     "operator", "restricted", None, None, services)
    return user


def keep_booking_open(session: Session, user_id: int, reason: str | None) -> LineUser:
    """The operator's decision after repeated no-shows: no restriction. Resolves the alert; the
    reason is kept in the audit log."""
    _reason(reason)
    user = _user(session, user_id)
    if user.no_show_review_at is None:
        raise UserActionError("この利用者について判断待ちの欠席はありません。")
    user.no_show_review_at = None
    _resolve_no_show_alerts(session, user.id)
    return user


def _resolve_no_show_alerts(session: Session, user_id: int) -> None:
    session.execute(update(OperatorAlert).where(
        OperatorAlert.kind == NO_SHOW_REVIEW, OperatorAlert.resolved_at.is_(None),
        OperatorAlert.booking_id.in_(select(Booking.id).where(Booking.user_id == user_id)))
        .values(resolved_at=now_in(session)))


def lift_expired_restrictions(session: Session, now: datetime) -> int:
    """Restrictions whose end has come lift by themselves (the user was told the date)."""
    return session.execute(update(LineUser).where(LineUser.restricted_until.is_not(None),
                                                  LineUser.restricted_until <= now)
                           .values(restricted_at=None, restriction_reason=None, restricted_until=None)).rowcount


def lift(session: Session, services: Services, user_id: int, reason: str | None, now: datetime) -> LineUser:
    """Let the user book again and tell them on LINE. The reason is kept in the audit log only."""
    _reason(reason)
    user = _user(session, user_id)
    if user.restricted_at is None:
        raise UserActionError("この利用者は予約を制限されていません。")
    user.restricted_at, user.restriction_reason, user.restricted_until = None, None, None
    if not user.blocked:
        queue_answer(session, user, notices.restriction_lifted(services.desk_settings),
                     "operator", "restriction_lifted", None, None, services)
    return user


# -- crisis flag ---------------------------------------------------------------------------------

def clear_flag(session: Session, user_id: int) -> LineUser:
    user = _user(session, user_id)
    if user.flagged_at is None:
        raise UserActionError("この会話は要注意になっていません。")
    user.flagged_at = None
    return user


# -- erasure -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Erasure:
    """How many rows hold (or held) the user's personal data, by kind. Counts only: safe to audit."""

    bookings: int
    messages: int
    webhook_events: int
    outbound_messages: int
    conversation_state: int
    meetings: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def upcoming_bookings(session: Session, user_id: int, now: datetime) -> list[Booking]:
    """Bookings that still occupy a slot: a live hold, or a confirmed session not yet over.
    Erasing their details would leave the counsellor a session with nobody to meet."""
    return list(session.scalars(
        select(Booking).where(
            Booking.user_id == user_id,
            or_((Booking.status == HELD) & (Booking.hold_expires_at > now),
                (Booking.status == CONFIRMED) & (Booking.ends_at > now)))
        .order_by(Booking.starts_at)))


def _events_of(user: LineUser):
    logged = select(MessageLog.event_id).where(MessageLog.user_id == user.id, MessageLog.event_id.is_not(None))
    return or_(WebhookEvent.source_key == user.line_user_id, WebhookEvent.id.in_(logged))


def _count(session: Session, query) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _meetings(session: Session, bookings: list[Booking]) -> list[tuple[LocalMeeting, set[str]]]:
    """Local meetings that list the user's e-mail among their attendees (GRAPH_INVITE_USER_EMAIL)."""
    found = []
    for booking in bookings:
        if not booking.email:
            continue
        for meeting in session.scalars(select(LocalMeeting).where(LocalMeeting.subject.contains(booking.reference))):
            if booking.email in (meeting.attendees or []):
                found.append((meeting, {booking.email}))
    return found


def erasure_preview(session: Session, user_id: int) -> Erasure:
    """What `erase` would clear now, as counts."""
    user = _user(session, user_id)
    bookings = list(session.scalars(select(Booking).where(Booking.user_id == user.id)))
    with_details = [b for b in bookings if any((b.name, b.furigana, b.email, b.phone, b.consultation, b.attendant))]
    state = session.get(ConversationState, user.id)
    events = session.scalars(select(WebhookEvent.body).where(_events_of(user)))
    sent = session.scalars(select(OutboundMessage.messages).where(
        OutboundMessage.user_id == user.id, OutboundMessage.status != PENDING))
    return Erasure(
        bookings=len(with_details),
        messages=_count(session, select(MessageLog.id).where(MessageLog.user_id == user.id,
                                                             MessageLog.text.is_not(None))),
        webhook_events=sum(1 for body in events if body),
        outbound_messages=sum(1 for messages in sent if messages),
        conversation_state=int(state is not None and bool(state.answers)),
        meetings=len(_meetings(session, with_details)),
    )


def erase(session: Session, user_id: int, now: datetime) -> Erasure:
    """Remove the user's personal data, keeping every row and what is needed for anonymous counts
    (message direction, kind, flow, step and time; booking topic, slot, status, age).

    Refused while the user has an upcoming booking: the operator cancels it first. Running it again
    erases whatever arrived since (the user may keep talking to the account).
    """
    user = _user(session, user_id)
    if upcoming_bookings(session, user.id, now):
        raise UserActionError("今後の予約（仮予約・確定）があるため消去できません。先に予約をキャンセルしてください。")
    counts = erasure_preview(session, user.id)

    bookings = list(session.scalars(select(Booking).where(Booking.user_id == user.id)))
    for meeting, emails in _meetings(session, bookings):
        meeting.attendees = [a for a in meeting.attendees if a not in emails]
    for booking in bookings:
        booking.name = booking.furigana = booking.email = booking.phone = booking.consultation = None
        booking.attendant = booking.calendar_key = None

    session.execute(update(MessageLog).where(MessageLog.user_id == user.id)
                    .values(text=None, payload={}).execution_options(synchronize_session=False))
    # Raw webhook bodies hold the message text and the reply token; keep the row (its event_key
    # still makes a redelivery a no-op) with an empty body.
    event_ids = list(session.scalars(select(WebhookEvent.id).where(_events_of(user))))
    if event_ids:
        session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(event_ids))
                        .values(body={}).execution_options(synchronize_session=False))
    # Messages still pending are owed to the user and must go out as they are.
    session.execute(update(OutboundMessage)
                    .where(OutboundMessage.user_id == user.id, OutboundMessage.status != PENDING)
                    .values(messages=[]).execution_options(synchronize_session=False))
    # A chat row holds no text; the reply token of an open chat is the last trace of a message.
    session.execute(update(Chat).where(Chat.user_id == user.id).values(reply_token=None, reply_received_at=None)
                    .execution_options(synchronize_session=False))
    state = session.get(ConversationState, user.id)
    if state is not None:
        # A flow cannot go on without its answers: the user starts again from the menu.
        state.flow = state.step = state.run_id = None
        state.answers, state.history, state.reasks = {}, [], 0
    user.erased_at = now
    session.flush()
    return counts

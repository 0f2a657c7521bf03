"""What the desk does to a booking on the user's behalf: cancel it, and retry its Teams handoff.

Shared by the `flask --app bot` commands and the console, so both do exactly the same thing. Each
function works in the caller's transaction: the change, the jobs it enqueues and (in the console)
the audit entry commit together or not at all. Marking attendance lives in `handlers/attendance.py`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations import notices
from models import Booking, LineUser
from models.booking import BY_DESK, BY_USER_IN_PERSON, BY_USER_PHONE, CANCELLED, CONFIRMED, TEAMS_FAILED

from handlers import handoff
from handlers.attendance import AttendanceError
from bot.line.outbox import queue_answer
from bot.services import Services

REASON_LIMIT = 500
# What the counsellor reads on the withdrawn Teams invite.
DESK_CANCEL_COMMENT = "窓口の都合により、このオンライン相談はキャンセルとなりました。"
USER_REQUEST_COMMENT = "相談者からのキャンセルのご連絡により、このオンライン相談はキャンセルとなりました。"
# Who asked for a cancellation the desk makes: the desk itself, or the user by phone or in person.
ASKED_BY = {"desk": BY_DESK, "phone": BY_USER_PHONE, "in_person": BY_USER_IN_PERSON}


class BookingActionError(ValueError):
    """Refused: `str(e)` is for the command line, `e.message_ja` for the console."""

    def __init__(self, message: str, message_ja: str) -> None:
        super().__init__(message)
        self.message_ja = message_ja


def find(session: Session, reference: str) -> Booking | None:
    return session.scalar(select(Booking).where(Booking.reference == reference))


def cancel_for_desk(session: Session, services: Services, reference: str, reason: str, now: datetime,
                    asked_by: str = "desk") -> Booking:
    """Cancel a confirmed booking from the desk: the Teams invite is withdrawn and the user told on LINE.

    `asked_by` says who asked: "desk" (the desk's own reasons), "phone" or "in_person" (the user asked
    the staff). It is recorded (`cancelled_by`), chooses the user's message and is counted apart.
    """
    if asked_by not in ASKED_BY:
        raise BookingActionError(f"asked_by must be one of {', '.join(ASKED_BY)}",
                                 "キャンセルの依頼元を選んでください。")
    reason = (reason or "").strip()
    if not reason:
        raise BookingActionError("a reason is required", "キャンセルの理由を入力してください。")
    if len(reason) > REASON_LIMIT:
        raise BookingActionError(f"the reason is longer than {REASON_LIMIT} characters",
                                 f"キャンセルの理由は{REASON_LIMIT}文字以内で入力してください。")
    booking = find(session, reference)
    if booking is None or booking.status != CONFIRMED:
        raise BookingActionError(f"no confirmed booking {reference}",
                                 "この予約は確定済みではないため、キャンセルできません。")
    booking.status, booking.cancelled_at = CANCELLED, now
    booking.cancelled_by, booking.cancel_reason = ASKED_BY[asked_by], reason
    by_desk = asked_by == "desk"
    handoff.enqueue_cancel(session, booking, DESK_CANCEL_COMMENT if by_desk else USER_REQUEST_COMMENT)
    user = session.get(LineUser, booking.user_id)
    settings = services.desk_settings
    said = (notices.cancelled_by_desk(settings, booking.starts_at) if by_desk
            else notices.cancelled_on_request(settings, booking.starts_at, asked_by == "in_person"))
    queue_answer(session, user, said, "operator", "cancelled", None, None, services)
    return booking


def retry_handoff(session: Session, reference: str) -> Booking:
    """Queue the Teams handoff of a confirmed booking again after it failed."""
    booking = find(session, reference)
    if booking is None or booking.teams_status != TEAMS_FAILED:
        raise BookingActionError(f"booking {reference} has no failed handoff",
                                 "この予約の Teams 連携は失敗していないため、再実行できません。")
    if booking.status != CONFIRMED:
        # The create job skips a booking that is no longer confirmed: it would stay "pending" forever.
        raise BookingActionError(f"booking {reference} is {booking.status}",
                                 "確定済みでない予約の Teams 連携は再実行できません。")
    handoff.retry_handoff(session, booking)
    return booking


def attendance_message_ja(error: AttendanceError, no_show_after_minutes: int) -> str:
    """handlers/attendance.py's refusal, as the console says it."""
    text = str(error)
    if text.startswith("no booking"):
        return "予約が見つかりません。"
    if " is " in text and text.startswith("booking "):
        return "この予約は確定済みではないため、参加状況を記録できません。"
    if "attended once it has started" in text:
        return "「参加」は相談の開始時刻を過ぎてから記録できます。"
    if "no-show can be marked" in text:
        return f"「不参加」は相談の開始から{no_show_after_minutes}分を過ぎてから記録できます。"
    return "参加状況を記録できませんでした。"

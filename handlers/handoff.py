"""Hand each confirmed booking to Teams, and take it back when the booking is cancelled.

Jobs for one booking share one of four lanes (queue keys), so its create always runs before its
cancel, and no more than four Graph calls are in flight for the organizer mailbox across every
worker, which is Graph's mailbox concurrency limit. A create carries a transactionId derived
from the booking, so a retry after a crash returns the same event instead of inviting twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from markupsafe import escape
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from conversations import notices
from conversations.schedule import label_slot
from models import Booking, Counsellor, Job, LineUser, MessageLog, OperatorAlert, OutboundMessage
from models.database import now_in
from models.booking import (
    CANCELLED,
    CONFIRMED,
    NO_SHOW,
    TEAMS_CANCELLED,
    TEAMS_CREATED,
    TEAMS_FAILED,
    TEAMS_PENDING,
)
from models.job import RUNNING
from models.message_log import OUTBOUND
from models.outbound_message import PENDING
from conversations.messages import summary

from bot.queue import jobs
from bot.teams.graph_api import GraphOutcome, GraphResult, MeetingRequest
from bot.line.outbox import queue_answer
from bot.services import Services
from handlers.alerts import CANCEL_FAILED, HANDOFF_FAILED, UPDATE_FAILED, raise_alert

log = logging.getLogger(__name__)

CREATE, CANCEL, UPDATE = "teams_create", "teams_cancel", "teams_update"
LANES = 4


def lane(booking_id: int) -> str:
    return f"graph:{booking_id % LANES}"


def transaction_id(booking: Booking) -> str:
    return f"desk-booking-{booking.id}-{booking.handoff_generation}"


def enqueue_create(session: Session, booking: Booking, *, before_answer: bool = False) -> None:
    """`before_answer` (the confirming turn): the meeting is made on this worker right after the turn
    commits, before the turn's answer is delivered, so that a link ready in time rides in the
    confirmation's free reply instead of a push (`_into_confirmation`). Its lane busy, it waits its
    turn as any create, and the link is pushed later as before."""
    booking.teams_status = TEAMS_PENDING
    payload: dict[str, Any] = {"booking_id": booking.id}
    if before_answer:
        # The confirmation is the user's first answer queued after this point (same transaction).
        payload["answer_after"] = session.scalar(
            select(func.coalesce(func.max(OutboundMessage.id), 0)).where(OutboundMessage.user_id == booking.user_id))
    jobs.enqueue(session, CREATE, payload, queue_key=lane(booking.id), max_attempts=200, run_next=before_answer)


def enqueue_cancel(session: Session, booking: Booking, comment: str) -> None:
    jobs.enqueue(session, CANCEL, {"booking_id": booking.id, "comment": comment}, queue_key=lane(booking.id),
                 max_attempts=200)


def enqueue_update(session: Session, booking: Booking) -> None:
    jobs.enqueue(session, UPDATE, {"booking_id": booking.id}, queue_key=lane(booking.id), max_attempts=200)


def _log(what: str, booking_id: int, result: GraphResult) -> None:
    log.info("graph %s for booking %s: %s %s (request-id=%s, client-request-id=%s)", what, booking_id,
             result.outcome.name, result.status, result.request_id, result.client_request_id)


def _meeting(services: Services, booking: Booking, counsellor: Counsellor) -> MeetingRequest:
    when = label_slot(booking.starts_at, services.desk_settings.rules)
    # Exchange keeps what the invite says after the desk erases the user: by default only the time,
    # the topic and a link to the booking in the console (signed in and audited) go into it.
    link = f"{services.config.public_base_url}/console/bookings/{quote(booking.reference)}"
    body = (f"<p>{escape(services.desk_settings.desk_name)} オンライン相談</p>"
            f"<p>日時：{escape(when)}<br>テーマ：{escape(booking.topic)}<br>予約番号：{escape(booking.reference)}</p>"
            f'<p>相談者の情報と相談内容は、コンソールの予約画面でご確認ください：<br><a href="{escape(link)}">'
            f"{escape(link)}</a></p>")
    if services.config.graph_invite_details:
        body += (f"<p>相談者：{escape(booking.name or '')}（{escape(booking.furigana or '')}）</p>"
                 f"<p>相談内容：<br>{escape(booking.consultation or '')}</p>".replace("\n", "<br>"))
    return MeetingRequest(
        transaction_id=transaction_id(booking),
        subject=f"【{services.desk_settings.desk_name}】オンライン相談 {when}（予約番号 {booking.reference}）",
        body_html=body, start=booking.starts_at, end=booking.ends_at,
        counsellor_email=counsellor.email, counsellor_name=counsellor.name,
        user_email=booking.email if services.config.graph_invite_user else None,
    )


def _alert(services: Services, session: Session, booking: Booking, kind: str, message: str) -> None:
    raise_alert(session, services.config, kind, message, booking.id)
    log.error("operator alert (%s) for booking %s: %s", kind, booking.id, message)


def _fail(services: Services, booking_id: int, detail: str) -> None:
    """The handoff failed for good: the console shows it with a retry, the user hears the link is late."""
    with services.db.transaction() as session:
        booking = session.get(Booking, booking_id)
        first_failure = booking.teams_status != TEAMS_FAILED
        booking.teams_status, booking.handoff_error = TEAMS_FAILED, detail[:2000]
        _alert(services, session, booking, HANDOFF_FAILED,
               f"Teams handoff failed for booking {booking.reference}: {detail}")
        user = session.get(LineUser, booking.user_id)
        if first_failure and booking.status == CONFIRMED:
            queue_answer(session, user, notices.link_delayed(services.desk_settings, booking.starts_at),
                         "teams", "handoff_failed", None, None, services)


def _may_exist_unrecorded(session: Session, booking: Booking) -> bool:
    """A booking withdrawn (cancelled, no-show) before its create finished: if an earlier attempt of
    the create may have reached Graph (its answer was lost, or its worker was killed mid-call), the
    event can exist without our knowing its id, and the cancel job behind this create would find
    nothing to withdraw: the counsellor's invite, with the user's name and consultation, would
    stand. So the create asks
    again with the same transactionId, which gets that event back if it exists, and records it for
    the cancel job; no join link is sent. On a first attempt nothing can exist yet: skipped as
    before. (Should every earlier attempt have been refused outright, the counsellor sees an invite
    and its cancellation at once: the lesser harm.)"""
    if booking.status not in (CANCELLED, NO_SHOW) or booking.teams_status != TEAMS_PENDING:
        return False
    # Only one job of a lane runs at a time, so the running create of this lane is this one.
    attempt = session.scalar(select(Job.attempts).where(Job.queue_key == lane(booking.id), Job.kind == CREATE,
                                                        Job.status == RUNNING))
    return (attempt or 0) > 1


def _into_confirmation(services: Services, session: Session, booking: Booking, answer_after: int | None,
                       link: list[dict[str, Any]]) -> bool:
    """Add the join link to the booking's confirmation when no delivery attempt has touched it yet and
    its reply token is still fresh: the user gets both in one free reply instead of a reply and a push.

    Race-free: this runs with the confirmation's outbound row locked (FOR UPDATE; SQLite's single
    writer), and a delivery counts its attempt on that row, locked, in the same transaction in which it
    reads the messages. So either this commits first and every attempt sends the link with the
    confirmation, or an attempt came first (attempts > 0) and the link is pushed as before; never both,
    never neither (join_link_sent_at is set in this same transaction either way)."""
    if answer_after is None:
        return False
    outbound = session.scalar(
        select(OutboundMessage)
        .where(OutboundMessage.user_id == booking.user_id, OutboundMessage.id > answer_after,
               OutboundMessage.reply_token.is_not(None))
        .order_by(OutboundMessage.id).limit(1).with_for_update())
    now = services.clock()
    if (outbound is None or outbound.status != PENDING or outbound.attempts or outbound.reply_rejected
            or outbound.reply_deadline is None or outbound.reply_deadline <= now
            or len(outbound.messages) + len(link) > 5):
        return False
    outbound.messages = [*outbound.messages, *link]
    session.execute(insert(MessageLog.__table__), [
        {"user_id": booking.user_id, "direction": OUTBOUND, "kind": str(message.get("type")), "text": summary(message),
         "payload": message, "flow": "teams", "step": "join_link", "outbound_id": outbound.id, "created_at": now}
        for message in link])
    log.info("booking %s: the join link goes with the confirmation's reply", booking.id)
    return True


def create_meeting(services: Services, payload: dict[str, Any]) -> None:
    booking_id = payload["booking_id"]
    with services.db.transaction() as session:
        booking = session.get(Booking, booking_id)
        if booking is None or booking.teams_status in (TEAMS_CREATED, TEAMS_FAILED):
            return
        if booking.status != CONFIRMED and not _may_exist_unrecorded(session, booking):
            return
        meeting = _meeting(services, booking, session.get(Counsellor, booking.counsellor_id))
        give_up_at = (booking.confirmed_at or services.clock()) + timedelta(minutes=services.config.graph_retry_window_minutes)
    result = services.meetings.create_event(meeting)
    _log("create", booking_id, result)

    if result.outcome is GraphOutcome.OK:
        with services.db.transaction() as session:
            booking = session.get(Booking, booking_id)
            booking.graph_event_id, booking.join_url = result.event_id, result.join_url
            booking.teams_status, booking.handoff_error = TEAMS_CREATED, None
            session.execute(update(OperatorAlert).where(OperatorAlert.booking_id == booking_id,
                                                        OperatorAlert.resolved_at.is_(None))
                            .values(resolved_at=now_in(session)))
            # Cancelled while Graph was answering: the cancel job (next in this lane) removes the event.
            if booking.status == CONFIRMED and booking.join_link_sent_at is None:
                user = session.get(LineUser, booking.user_id)
                link = notices.link_ready(services.desk_settings, booking.starts_at, booking.topic, result.join_url)
                if not _into_confirmation(services, session, booking, payload.get("answer_after"), link):
                    queue_answer(session, user, link, "teams", "join_link", None, None, services)
                booking.join_link_sent_at = services.clock()
        return
    if result.outcome is GraphOutcome.NO_LINK:
        # An event without a Teams link is no meeting: take it back, and let a retry make a new one.
        if result.event_id:
            services.meetings.cancel_event(result.event_id, "オンライン会議を作成できなかったためキャンセルします。")
        with services.db.transaction() as session:
            session.get(Booking, booking_id).handoff_generation += 1
        return _fail(services, booking_id, "Graph created the event without a Teams link: check that the "
                                           "organizer mailbox has a Teams licence and Teams meetings allowed.")
    if result.outcome is GraphOutcome.AUTH:  # the adapter's detail names the permission
        return _fail(services, booking_id, result.detail)
    if result.outcome is GraphOutcome.REJECTED:
        return _fail(services, booking_id, f"Graph refused the event ({result.status}): {result.detail}")
    if services.clock() >= give_up_at:
        return _fail(services, booking_id, f"Graph did not accept the event within "
                                           f"{services.config.graph_retry_window_minutes} minutes "
                                           f"(last answer: {result.status or result.outcome.name}).")
    raise jobs.RetryLater(f"graph create: {result.status or result.outcome.name}", result.retry_after)


def cancel_meeting(services: Services, payload: dict[str, Any]) -> None:
    booking_id = payload["booking_id"]
    with services.db.transaction() as session:
        booking = session.get(Booking, booking_id)
        if booking is None or booking.teams_status == TEAMS_CANCELLED:
            return
        if not booking.graph_event_id:
            booking.teams_status = TEAMS_CANCELLED  # nothing was made; a late create sees the cancellation
            return
        event_id = booking.graph_event_id
    result = services.meetings.cancel_event(event_id, payload.get("comment") or "ご予約がキャンセルされました。")
    _log("cancel", booking_id, result)
    if result.outcome is GraphOutcome.OK:
        with services.db.transaction() as session:
            session.get(Booking, booking_id).teams_status = TEAMS_CANCELLED
        return
    if result.outcome in (GraphOutcome.RETRY, GraphOutcome.UNKNOWN):
        raise jobs.RetryLater(f"graph cancel: {result.status or result.outcome.name}", result.retry_after)
    with services.db.transaction() as session:
        booking = session.get(Booking, booking_id)
        _alert(services, session, booking, CANCEL_FAILED,
               f"The Teams event of booking {booking.reference} could not be cancelled ({result.status}): "
               f"{result.detail}")


def update_meeting(services: Services, payload: dict[str, Any]) -> None:
    booking_id = payload["booking_id"]
    with services.db.transaction() as session:
        booking = session.get(Booking, booking_id)
        if booking is None or booking.status != CONFIRMED or not booking.graph_event_id:
            return  # no event yet: the create (earlier in this lane, or a retry) makes it at the new time
        event_id = booking.graph_event_id
        meeting = _meeting(services, booking, session.get(Counsellor, booking.counsellor_id))
    result = services.meetings.move_event(event_id, meeting)
    _log("update", booking_id, result)
    if result.outcome in (GraphOutcome.RETRY, GraphOutcome.UNKNOWN):
        raise jobs.RetryLater(f"graph update: {result.status or result.outcome.name}", result.retry_after)
    if result.outcome is not GraphOutcome.OK:
        with services.db.transaction() as session:
            booking = session.get(Booking, booking_id)
            _alert(services, session, booking, UPDATE_FAILED,
                   f"The Teams event of booking {booking.reference} kept its old time ({result.status}): "
                   f"{result.detail}")


def retry_handoff(session: Session, booking: Booking) -> None:
    """The operator's retry after a failed handoff."""
    booking.handoff_error = None
    session.execute(update(OperatorAlert).where(OperatorAlert.booking_id == booking.id,
                                                OperatorAlert.resolved_at.is_(None)).values(resolved_at=now_in(session)))
    enqueue_create(session, booking)

"""One turn: a stored LINE event becomes the bot's answer, logged and queued for delivery.

Everything a turn changes commits in one transaction, together with the mark that the event is
processed, so a turn retried after a crash never answers twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from linebot.v3.webhooks import Event
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from conversations.engine import Engine, Turn
from conversations.flow import State
from conversations.inputs import Follow, Postback, Unfollow, UserInput
from conversations.messages import button_label
from handlers import Inbound, translate
from handlers import chats
from models import ConversationState, LineUser, MessageLog, WebhookEvent
from models.message_log import INBOUND, OUTBOUND

from bot.queue import jobs
from handlers.database_desk import DatabaseDesk
from bot.line.outbox import queue_answer
from bot.services import Services

log = logging.getLogger(__name__)
ENGINE = Engine()


def parse_event(body: dict[str, Any]) -> Any | None:
    try:
        return Event.from_dict(body)
    except Exception:  # an unknown or malformed event is recorded, never answered
        return None


_USER_BY_LINE_ID = select(LineUser).where(LineUser.line_user_id == bindparam("line_user_id"))
# Taking the event decides which worker answers it, should two ever hold it at once.
# Against the table, not the mapped class: the ORM's update machinery cost more than the update.
_EVENTS = WebhookEvent.__table__
_TAKE_EVENT = (update(_EVENTS)
               .where(_EVENTS.c.id == bindparam("event_id"), _EVENTS.c.processed_at.is_(None))
               .values(processed_at=bindparam("now", type_=_EVENTS.c.processed_at.type))
               .returning(_EVENTS.c.event_type, _EVENTS.c.source_key, _EVENTS.c.body, _EVENTS.c.received_at,
                          _EVENTS.c.occurred_at))


def user_for(session: Session, line_user_id: str, now: datetime | None = None) -> LineUser:
    """The user, created on first sight; `now` marks them seen (one write for a new user)."""
    user = session.scalar(_USER_BY_LINE_ID, {"line_user_id": line_user_id})
    if user is None:
        user = LineUser(line_user_id=line_user_id, last_seen_at=now)
        session.add(user)
        session.flush()
    elif now is not None:
        user.last_seen_at = now
    return user


# The user and where they are in a conversation, in one query.
_USER_AND_STATE = (select(LineUser, ConversationState)
                   .outerjoin(ConversationState, ConversationState.user_id == LineUser.id)
                   .where(LineUser.line_user_id == bindparam("line_user_id")))
# The user's own message is logged as a plain insert (nothing reads the object back in the turn),
# written at once, so it comes before the answer's rows.
_INSERT_LOG = insert(MessageLog.__table__)


def _user_and_state(session: Session, line_user_id: str, now: datetime) -> tuple[LineUser, ConversationState | None]:
    found = session.execute(_USER_AND_STATE, {"line_user_id": line_user_id}).one_or_none()
    if found is None:
        return user_for(session, line_user_id, now), None
    user, state = found
    user.last_seen_at = now
    return user, state


def process_event(services: Services, payload: dict[str, Any]) -> None:
    event_id = payload["event_id"]
    with services.db.transaction() as session:
        row = session.execute(_TAKE_EVENT, {"event_id": event_id, "now": services.clock()}).one_or_none()
        if row is None:
            return
        # The job is done with the turn's own transaction: the turn commits once, or not at all.
        jobs.complete_here(session)
        event = parse_event(row.body)
        inbound = translate(event) if event is not None else Inbound(None, row.event_type[:20])
        source = row.body.get("source") if isinstance(row.body, dict) else None
        if not (isinstance(source, dict) and source.get("type") == "user" and row.source_key != "-"):
            return
        now = services.clock()
        user, before = _user_and_state(session, row.source_key, now)
        if isinstance(inbound.input, Follow):
            user.followed_at, user.blocked_at = now, None
        elif isinstance(inbound.input, Unfollow):
            user.blocked_at = now

        if row.event_type == "unsend":
            forget_unsent(session, row.source_key, row.body)
            return
        logged = {"user_id": user.id, "direction": INBOUND, "kind": inbound.kind, "payload": inbound.payload,
                  "event_id": event_id, "created_at": now, "flow": None, "step": None}
        if inbound.input is None:
            session.execute(_INSERT_LOG, {**logged, "text": inbound.text})
            return
        session.execute(_INSERT_LOG, {**logged, "text": _readable(session, user, inbound),
                                      "flow": before.flow if before else None, "step": before.step if before else None})
        turn = converse(session, services, user, inbound.input, before)
        if turn.messages and not user.blocked:
            queue_answer(session, user, turn.messages, turn.flow, turn.step, inbound.reply_token, row, services)
        elif not turn.messages and inbound.reply_token:  # in a chat: the operator answers, maybe by this token
            chats.keep_reply_token(session, user.id, inbound.reply_token, min(filter(None, (row.received_at, row.occurred_at))))


def forget_unsent(session: Session, source_key: str, body: dict[str, Any]) -> int:
    """The user took a message back (LINE's unsend): blank its text in the stored webhook body and
    in the log, so nobody reads it in the console again. Returns how many log rows were blanked."""
    unsend = body.get("unsend") if isinstance(body, dict) else None
    message_id = unsend.get("messageId") if isinstance(unsend, dict) else None
    if not isinstance(message_id, str) or not message_id:
        return 0
    events = session.scalars(select(WebhookEvent).where(
        WebhookEvent.source_key == source_key, WebhookEvent.event_type == "message",
        WebhookEvent.body["message"]["id"].as_string() == message_id)).all()
    blanked = 0
    for event in events:
        message = {k: v for k, v in (event.body.get("message") or {}).items() if k in ("id", "type")}
        event.body = {**event.body, "message": {**message, "unsent": True}}
        blanked += session.execute(update(MessageLog).where(MessageLog.event_id == event.id,
                                                            MessageLog.direction == INBOUND)
                                   .values(kind="unsent", text=None, payload={})).rowcount
    return blanked


# How far back a tapped button is looked for: a user can tap a button of an earlier question.
_BUTTONS_LOOKBACK = 30


def _readable(session: Session, user: LineUser, inbound: Inbound) -> str | None:
    """For the console: a postback as the label of the button the user tapped (and the date or
    time they picked), not its internal data, which stays in the payload."""
    if not isinstance(inbound.input, Postback):
        return inbound.text
    sent = session.scalars(
        select(MessageLog.payload)
        .where(MessageLog.user_id == user.id, MessageLog.direction == OUTBOUND)
        .order_by(MessageLog.created_at.desc(), MessageLog.id.desc()).limit(_BUTTONS_LOOKBACK)).all()
    label = button_label(list(reversed(sent)), inbound.input.data)
    if label is None:
        return inbound.text
    picked = " ".join(inbound.input.params.values())
    return f"{label}（{picked}）" if picked else label


def converse(session: Session, services: Services, user: LineUser, user_input: UserInput,
             saved: ConversationState | None) -> Turn:
    """One turn of the conversation engine over the user's saved state (None: a first turn),
    saving it again."""
    new = saved is None
    if new:
        saved = ConversationState(user_id=user.id, answers={}, history=[], reasks=0)
    state = State(saved.flow, saved.step, saved.run_id, dict(saved.answers or {}), list(saved.history or []),
                  saved.reasks or 0, saved.updated_at)
    # Read in this turn's transaction, so a version published a moment ago on any host counts.
    desk = DatabaseDesk(session, user, services.desk_settings, services.policies_now(session), services.clock,
                        demo_counsellors=services.config.simulator, config=services.config)
    turn = ENGINE.turn(state, user_input, desk)
    saved.flow, saved.step, saved.run_id = state.flow, state.step, state.run_id
    saved.answers, saved.history, saved.reasks = state.answers, state.history, state.reasks
    saved.updated_at = state.updated_at or services.clock()
    if new:
        session.add(saved)  # only now, so it is written once, with the turn's result
    return turn

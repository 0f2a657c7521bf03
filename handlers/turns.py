"""One turn: a stored LINE event becomes the bot's answer, logged and queued for delivery.

Everything a turn changes commits in one transaction, together with the mark that the event is
processed, so a turn retried after a crash never answers twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from linebot.v3.webhooks import Event
from sqlalchemy import bindparam, exists, func, insert, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, aliased

from conversations.engine import Engine, Turn
from conversations.flow import State
from conversations.inputs import Follow, Postback, Unfollow, UserInput
from conversations.messages import button_label
from handlers import Inbound, translate
from handlers import chats
from models import Chat, ConversationState, DeskSetting, LineUser, MessageLog, PolicyConsent, WebhookEvent
from models.chat import OPEN as OPEN_CHAT
from models.desk_setting import MAINTENANCE
from models.message_log import INBOUND, OUTBOUND

from bot.queue import jobs
from handlers.database_desk import DatabaseDesk, Known
from bot.policy.store import VERSIONS_JOINED
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


_USERS = LineUser.__table__
_TOUCH_USER = (update(_USERS).where(_USERS.c.line_user_id == bindparam("source_key"))
               .values(last_seen_at=bindparam("now", type_=_USERS.c.last_seen_at.type)))


def _take_on_postgresql() -> Any:
    """One statement takes the event and completes its job (the user is marked seen as they are
    read, `_USER_AND_STATE_ON_POSTGRESQL`): where each statement's round trip and execution cost
    more than its work."""
    taken = _TAKE_EVENT.cte("taken")
    completed = select(func.count()).select_from(jobs.COMPLETE_CTE).scalar_subquery().label("completed")
    return select(completed, taken).select_from(select(literal(1)).subquery("one").outerjoin(taken, true()))


_TAKE_ON_POSTGRESQL = _take_on_postgresql()


def _take(session: Session, event_id: int, now: datetime) -> Any | None:
    """The stored event, taken for this turn (None: already taken), its job completed with the
    turn; on SQLite its user (if known) is marked seen here."""
    job = jobs.completion_params(session)
    postgresql = session.get_bind().dialect.name == "postgresql"
    if job is not None and postgresql:
        row = session.execute(_TAKE_ON_POSTGRESQL, {**job, "event_id": event_id, "now": now}).one()
        jobs.completed_here(row.completed)
        return row if row.event_type is not None else None
    row = session.execute(_TAKE_EVENT, {"event_id": event_id, "now": now}).one_or_none()
    if row is not None:
        jobs.complete_here(session)
        if not postgresql:
            session.execute(_TOUCH_USER, {"source_key": row.source_key, "now": now})
    return row


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


# The user, where they are in a conversation, and what the desk asks on every turn (the policy
# versions published, the maintenance notice, the user's latest consent, whether they are in a
# chat), in one query: asked one by one, the statements cost more than the turn's own work.
_CONSENTS = PolicyConsent.__table__.c
_LATEST_CONSENT = select(_CONSENTS.policy_version, _CONSENTS.agreed).order_by(_CONSENTS.id.desc()).limit(1)
_FACTS = (VERSIONS_JOINED.label("policies"),
          select(DeskSetting.value).where(DeskSetting.key == MAINTENANCE).scalar_subquery().label("maintenance"))


def _user_facts(user: Any) -> tuple[Any, ...]:
    latest = _LATEST_CONSENT.where(_CONSENTS.user_id == user.id)
    return (latest.with_only_columns(_CONSENTS.policy_version).scalar_subquery().label("consent_version"),
            latest.with_only_columns(_CONSENTS.agreed).scalar_subquery().label("consent_agreed"),
            exists().where(Chat.user_id == user.id, Chat.status.in_(OPEN_CHAT)).label("in_chat"))


_USER_AND_STATE = (select(LineUser, ConversationState, *_FACTS, *_user_facts(LineUser))
                   # One row even for a user not seen before, with what the desk asks of everyone.
                   .select_from(select(literal(1)).subquery("one"))
                   .outerjoin(LineUser, LineUser.line_user_id == bindparam("line_user_id"))
                   .outerjoin(ConversationState, ConversationState.user_id == LineUser.id))


def _user_and_state_on_postgresql() -> Any:
    """The user, created on first sight and marked seen (an upsert), with the rest as above."""
    seen = (pg_insert(_USERS).values(line_user_id=bindparam("line_user_id_"), created_at=bindparam("now_"),
                                     last_seen_at=bindparam("now_"))
            .on_conflict_do_update(index_elements=[_USERS.c.line_user_id],
                                   set_={"last_seen_at": pg_insert(_USERS).excluded.last_seen_at})
            .returning(*_USERS.c).cte("seen"))
    user = aliased(LineUser, seen)
    return (select(user, ConversationState, *_FACTS, *_user_facts(user))
            .outerjoin(ConversationState, ConversationState.user_id == user.id))


_USER_AND_STATE_ON_POSTGRESQL = _user_and_state_on_postgresql()
# The user's own message is logged as a plain insert (nothing reads the object back in the turn),
# written at once, so it comes before the answer's rows.
_INSERT_LOG = insert(MessageLog.__table__)


@dataclass
class _Seen:
    user: LineUser
    state: ConversationState | None
    known: Known
    policies: str  # the published versions, as bot/policy/store.py joins them


def _user_and_state(session: Session, line_user_id: str, now: datetime) -> _Seen:
    if session.get_bind().dialect.name == "postgresql":
        found = session.execute(_USER_AND_STATE_ON_POSTGRESQL, {"line_user_id_": line_user_id, "now_": now}).one()
        user = found[0]
    else:
        found = session.execute(_USER_AND_STATE, {"line_user_id": line_user_id}).one()
        user = found.LineUser
    if user is None:  # first sight: no consent, no chat yet
        user = LineUser(line_user_id=line_user_id, last_seen_at=now)
        session.add(user)
        session.flush()
    return _Seen(user, found.ConversationState,
                 Known(found.maintenance, found.consent_version, found.consent_agreed, bool(found.in_chat)),
                 found.policies or "")


def process_event(services: Services, payload: dict[str, Any]) -> None:
    event_id = payload["event_id"]
    with services.db.transaction() as session:
        now = services.clock()
        # The job is done with the turn's own transaction: the turn commits once, or not at all.
        row = _take(session, event_id, now)
        if row is None:
            return
        event = parse_event(row.body)
        inbound = translate(event) if event is not None else Inbound(None, row.event_type[:20])
        source = row.body.get("source") if isinstance(row.body, dict) else None
        if not (isinstance(source, dict) and source.get("type") == "user" and row.source_key != "-"):
            return
        seen = _user_and_state(session, row.source_key, now)
        user, before = seen.user, seen.state
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
        turn = converse(session, services, user, inbound.input, before, seen.known, seen.policies)
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
             saved: ConversationState | None, known: Known | None = None, policies: str | None = None) -> Turn:
    """One turn of the conversation engine over the user's saved state (None: a first turn),
    saving it again. `known` and `policies`: what the turn's first query read (None: the desk asks)."""
    new = saved is None
    if new:
        saved = ConversationState(user_id=user.id, answers={}, history=[], reasks=0)
    state = State(saved.flow, saved.step, saved.run_id, dict(saved.answers or {}), list(saved.history or []),
                  saved.reasks or 0, saved.updated_at)
    # Read in this turn's transaction, so a version published a moment ago on any host counts.
    desk = DatabaseDesk(session, user, services.desk_settings, services.policies_now(session, policies), services.clock,
                        demo_counsellors=services.config.simulator, config=services.config, known=known)
    turn = ENGINE.turn(state, user_input, desk)
    values = {"user_id": user.id, "flow": state.flow, "step": state.step, "run_id": state.run_id,
              "answers": state.answers, "history": state.history, "reasks": state.reasks,
              "updated_at": state.updated_at or services.clock()}
    # A plain statement, not the loaded object's flush: the ORM's unit of work cost more than the write.
    if new:
        session.execute(_INSERT_STATE, values)
    else:
        session.execute(_UPDATE_STATE, {f"new_{k}": v for k, v in values.items()})
    return turn


_STATES = ConversationState.__table__
_INSERT_STATE = insert(_STATES)
_UPDATE_STATE = (update(_STATES).where(_STATES.c.user_id == bindparam("new_user_id"))
                 .values({c: bindparam(f"new_{c.name}", type_=c.type) for c in _STATES.c if c.name != "user_id"}))

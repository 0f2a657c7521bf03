"""Retention: how long records are kept, and the daily purge that enforces it.

| record | kept | then |
|---|---|---|
| raw webhook body (`WebhookEvent.body`) | WEBHOOK_BODY_RETENTION_DAYS (30) | blanked to `{}`; the row stays, so its `event_key` keeps a late redelivery a no-op |
| webhook event row | RETENTION_DAYS (365) | deleted, once no conversation log row points at it |
| conversation log (`MessageLog`) | RETENTION_DAYS | text and payload blanked and the links to the event and the sent message cleared; the row keeps direction, kind, flow, step and time: the anonymous usage record the statistics count (two years of weeks) |
| sent message (`OutboundMessage`) | RETENTION_DAYS | deleted unless still pending (a pending one is owed to the user) |
| finished job (done or dead) | RETENTION_DAYS after it finished | deleted (payloads hold only ids) |
| booking's personal fields (name, reading, e-mail, phone, consultation, attendant) | RETENTION_DAYS after the session ended | blanked; the booking row stays (topic, time, status: what the statistics count) |
| conversation state (an unfinished flow's answers) | FLOW_TIMEOUT_MINUTES plus a day after its last change | deleted: the flow had timed out, the next message starts afresh |
| a user who blocked the account | RETENTION_DAYS after the block | personal data erased by `user_actions.erase`, as the console's erasure does; skipped while they have an upcoming booking |

Kept as they are: consents (which
version each user agreed to, and when, is a record the desk keeps), the audit log (append-only),
LINE user rows, alerts.

Many workers on many hosts run the periodic work. The run of a Tokyo day is claimed in the desk
setting "retention" by a conditional update of its `updated_at`, so one process does it; every
batch commits its rows, its running counts and a heartbeat together, and the last one adds the
audit entry. A run whose process died is audited as incomplete by the next day's run, which
carries on where it stopped (blanking resumes from the last completed cut-off; deletions simply
find what is left). Plain Python over SQLAlchemy, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conversations.schedule import to_tokyo
from models import (
    AuditEntry,
    Booking,
    ConversationState,
    DeskSetting,
    Job,
    LineUser,
    MessageLog,
    OutboundMessage,
    WebhookEvent,
)
from models.database import now_in
from models.job import DEAD, DONE
from models.outbound_message import PENDING

from bot.services import Services
from handlers.users import UserActionError, erase, upcoming_bookings

log = logging.getLogger(__name__)

SETTING = "retention"
ACTION = "retention_purge"
SYSTEM = "system"
# A run that showed no progress for this long is taken to have died with its process.
STALE_AFTER = timedelta(minutes=10)
# Erasing a user is a dozen statements: fewer of them per transaction than rows in a batch.
USERS_PER_TRANSACTION = 50

COUNTS = ("webhook_bodies_blanked", "messages_blanked", "bookings_blanked", "states_deleted",
          "webhook_events_deleted", "outbound_messages_deleted", "jobs_deleted", "users_anonymised",
          "users_skipped")
# An unfinished flow's state outlives its timeout by this much before it is deleted.
STATE_MARGIN = timedelta(days=1)
BOOKING_PERSONAL = {"name": None, "furigana": None, "email": None, "phone": None, "consultation": None,
                    "attendant": None}


@dataclass(frozen=True)
class Cutoffs:
    """Records older than `records` are purged; webhook bodies older than `bodies` are blanked."""

    records: datetime
    bodies: datetime
    states: datetime

    @classmethod
    def at(cls, services: Services, now: datetime) -> Cutoffs:
        config = services.config
        return cls(now - timedelta(days=config.retention_days),
                   now - timedelta(days=config.webhook_body_retention_days),
                   now - timedelta(minutes=services.desk_settings.flow_timeout_minutes) - STATE_MARGIN)

    def as_dict(self) -> dict[str, str]:
        return {"records": _iso(self.records), "bodies": _iso(self.bodies)}


@dataclass
class Report:
    cutoffs: Cutoffs
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    dry_run: bool = False


class PurgeRunning(RuntimeError):
    """Another process is purging right now."""


def _iso(moment: datetime) -> str:
    return to_tokyo(moment).isoformat(timespec="seconds")


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# -- the claim ------------------------------------------------------------------------------------

def _setting(services: Services) -> DeskSetting:
    try:
        with services.db.transaction() as session:
            found = session.get(DeskSetting, SETTING)
            if found is None:
                found = DeskSetting(key=SETTING, value={})
                session.add(found)
            return found
    except IntegrityError:  # another process created it at the same moment
        with services.db.transaction() as session:
            return session.get(DeskSetting, SETTING)


def _claim(services: Services, now: datetime, cutoffs: Cutoffs, trigger: str, force: bool) -> dict[str, Any] | None:
    """The run's state, or None when today's run is done, running or another process won it."""
    row = _setting(services)
    previous = row.value or {}
    unfinished = previous.get("started_at") and not previous.get("finished_at")
    if unfinished and services.clock() - row.updated_at < STALE_AFTER:
        if force:
            raise PurgeRunning(f"a purge is running (last progress {_iso(row.updated_at)})")
        return None
    today = to_tokyo(now).date().isoformat()
    if previous.get("run_on") == today and not force:
        return None
    state = {
        "run_on": today, "started_at": _iso(now), "finished_at": None, "trigger": trigger,
        "cutoffs": cutoffs.as_dict(), "counts": dict.fromkeys(COUNTS, 0),
        # Blanking resumes from the cut-off of the last run that completed that step.
        "bodies_done_before": previous.get("bodies_done_before"),
        "messages_done_before": previous.get("messages_done_before"),
        "bookings_done_before": previous.get("bookings_done_before"),
    }
    # The heartbeat only moves forward, so the compare-and-set below never meets an updated_at it
    # saw before, even when two hosts' clocks (or a frozen test clock) agree.
    stamp = max(services.clock(), row.updated_at + timedelta(microseconds=1))
    state["beat"] = stamp.isoformat()
    with services.db.transaction() as session:
        won = session.execute(
            update(DeskSetting).where(DeskSetting.key == SETTING, DeskSetting.updated_at == row.updated_at)
            .values(value=state, updated_at=stamp)).rowcount
        if not won:
            return None
        if unfinished:
            _audit(session, now, {**previous, "incomplete": True})
    return state


def _save(session: Session, state: dict[str, Any]) -> None:
    # A new dict each time: the JSON column only notices reassignment. updated_at is the heartbeat,
    # strictly later than the last one (see _claim).
    stamp = max(now_in(session), datetime.fromisoformat(state["beat"]) + timedelta(microseconds=1))
    state["beat"] = stamp.isoformat()
    session.execute(update(DeskSetting).where(DeskSetting.key == SETTING)
                    .values(value=json.loads(json.dumps(state)), updated_at=stamp))


def _audit(session: Session, now: datetime, state: dict[str, Any]) -> None:
    detail = {key: state.get(key) for key in ("run_on", "trigger", "cutoffs", "counts", "incomplete") if state.get(key)}
    session.add(AuditEntry(at=now, operator_id=None, operator_email=SYSTEM, action=ACTION, target=SETTING,
                           detail=json.dumps(detail, ensure_ascii=False, sort_keys=True)))


# -- the purge ------------------------------------------------------------------------------------

class _Purge:
    def __init__(self, services: Services, now: datetime, cutoffs: Cutoffs, state: dict[str, Any]) -> None:
        self.services, self.now, self.cutoffs, self.state = services, now, cutoffs, state
        self.batch = services.config.retention_batch_size

    def count(self, session: Session, name: str, n: int) -> None:
        self.state["counts"][name] += n
        _save(session, self.state)

    def blank(self, name: str, model: Any, column: Any, mark: str, before: datetime, values: dict[str, Any]) -> None:
        """Blank rows with `column` in [the last completed cut-off, `before`), walking (time, id)."""
        since = _when(self.state.get(mark))
        last: tuple[datetime, int] | None = None
        while True:
            with self.services.db.transaction() as session:
                query = select(column, model.id).where(column < before)
                if since is not None:
                    query = query.where(column >= since)
                if last is not None:
                    query = query.where(or_(column > last[0], and_(column == last[0], model.id > last[1])))
                rows = session.execute(query.order_by(column, model.id).limit(self.batch)).all()
                if rows:
                    session.execute(update(model).where(model.id.in_([r[1] for r in rows])).values(**values)
                                    .execution_options(synchronize_session=False))
                    last = (rows[-1][0], rows[-1][1])
                if len(rows) < self.batch:
                    if since is None or before > since:
                        self.state[mark] = _iso(before)
                    self.count(session, name, len(rows))
                    return
                self.count(session, name, len(rows))

    def delete(self, name: str, model: Any, *conditions: Any, recheck: tuple[Any, ...] = ()) -> None:
        """Delete rows matching `conditions`; `recheck` is applied to the picked ids only, so it
        never steers the choice of index."""
        while True:
            with self.services.db.transaction() as session:
                ids = list(session.scalars(select(model.id).where(*conditions).limit(self.batch)))
                deleted = session.execute(delete(model).where(model.id.in_(ids), *recheck)
                                          .execution_options(synchronize_session=False)).rowcount if ids else 0
                self.count(session, name, deleted)
            if len(ids) < self.batch or not deleted:
                return

    def delete_stale_states(self) -> None:
        """Unfinished flows long past their timeout: their answers (name, phone, ...) go."""
        while True:
            with self.services.db.transaction() as session:
                ids = list(session.scalars(select(ConversationState.user_id)
                                           .where(ConversationState.updated_at < self.cutoffs.states)
                                           .limit(self.batch)))
                deleted = session.execute(delete(ConversationState).where(
                    ConversationState.user_id.in_(ids), ConversationState.updated_at < self.cutoffs.states)
                    .execution_options(synchronize_session=False)).rowcount if ids else 0
                self.count(session, "states_deleted", deleted)
            if len(ids) < self.batch or not deleted:
                return

    def anonymise_blocked_users(self) -> None:
        per_transaction = min(self.batch, USERS_PER_TRANSACTION)
        last = 0
        while True:
            with self.services.db.transaction() as session:
                ids = list(session.scalars(_blocked_users(self.cutoffs).where(LineUser.id > last)
                                           .order_by(LineUser.id).limit(per_transaction)))
                for user_id in ids:
                    try:
                        erase(session, user_id, self.now)
                        self.state["counts"]["users_anonymised"] += 1
                    except UserActionError:  # an upcoming booking: erased on a later day
                        self.state["counts"]["users_skipped"] += 1
                _save(session, self.state)
            if len(ids) < per_transaction:
                return
            last = ids[-1]

    def run(self) -> None:
        cut = self.cutoffs
        self.blank("webhook_bodies_blanked", WebhookEvent, WebhookEvent.received_at, "bodies_done_before",
                   cut.bodies, {"body": {}})
        self.blank("messages_blanked", MessageLog, MessageLog.created_at, "messages_done_before", cut.records,
                   {"text": None, "payload": {}, "event_id": None, "outbound_id": None})
        self.blank("bookings_blanked", Booking, Booking.ends_at, "bookings_done_before", cut.records,
                   BOOKING_PERSONAL)
        self.delete_stale_states()
        # A young log row may still point at an event received just before the cut-off: that event
        # goes on a later day, when its log row is old enough too.
        self.delete("webhook_events_deleted", WebhookEvent, WebhookEvent.received_at < cut.records,
                    ~exists().where(MessageLog.event_id == WebhookEvent.id))
        self.delete("outbound_messages_deleted", OutboundMessage, OutboundMessage.created_at < cut.records,
                    OutboundMessage.status != PENDING, ~exists().where(MessageLog.outbound_id == OutboundMessage.id))
        # finished_at is set only when a job ends done or dead (bot/queue/jobs.py); the status is checked
        # again anyway. Picking by status would walk ix_jobs_status over every done job.
        self.delete("jobs_deleted", Job, Job.finished_at < cut.records, recheck=(Job.status.in_((DONE, DEAD)),))
        self.anonymise_blocked_users()
        with self.services.db.transaction() as session:
            self.state["finished_at"] = _iso(self.now)
            _save(session, self.state)
            _audit(session, self.now, self.state)


def _blocked_users(cutoffs: Cutoffs):
    # Erased since the block: nothing new can have come (a user who unblocks is no longer blocked).
    return select(LineUser.id).where(
        LineUser.blocked_at < cutoffs.records,
        or_(LineUser.erased_at.is_(None), LineUser.erased_at < LineUser.blocked_at))


# -- dry run --------------------------------------------------------------------------------------

def _preview(services: Services, now: datetime, cutoffs: Cutoffs) -> Report:
    """What a run now would do, counted; nothing is changed."""
    report = Report(cutoffs, dry_run=True)
    with services.db.transaction() as session:
        setting = session.get(DeskSetting, SETTING)
        marks = (setting.value if setting else None) or {}

        def count(model: Any, *conditions: Any) -> int:
            return session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0

        def since(column: Any, mark: str) -> list[Any]:
            start = _when(marks.get(mark))
            return [column >= start] if start else []

        # Log rows past the cut-off lose their links first, so only younger ones hold a row back.
        young = MessageLog.created_at >= cutoffs.records
        c = report.counts
        c["webhook_bodies_blanked"] = count(WebhookEvent, WebhookEvent.received_at < cutoffs.bodies,
                                            *since(WebhookEvent.received_at, "bodies_done_before"))
        c["messages_blanked"] = count(MessageLog, MessageLog.created_at < cutoffs.records,
                                      *since(MessageLog.created_at, "messages_done_before"))
        c["bookings_blanked"] = count(Booking, Booking.ends_at < cutoffs.records,
                                      *since(Booking.ends_at, "bookings_done_before"))
        c["states_deleted"] = count(ConversationState, ConversationState.updated_at < cutoffs.states)
        c["webhook_events_deleted"] = count(WebhookEvent, WebhookEvent.received_at < cutoffs.records,
                                            ~exists().where(MessageLog.event_id == WebhookEvent.id, young))
        c["outbound_messages_deleted"] = count(
            OutboundMessage, OutboundMessage.created_at < cutoffs.records, OutboundMessage.status != PENDING,
            ~exists().where(MessageLog.outbound_id == OutboundMessage.id, young))
        c["jobs_deleted"] = count(Job, Job.finished_at < cutoffs.records, Job.status.in_((DONE, DEAD)))
        for user_id in session.scalars(_blocked_users(cutoffs)):
            c["users_skipped" if upcoming_bookings(session, user_id, now) else "users_anonymised"] += 1
    return report


# -- entry points ---------------------------------------------------------------------------------

def run(services: Services, now: datetime | None = None, *, dry_run: bool = False, force: bool = False,
        trigger: str = "worker") -> Report | None:
    """Purge what is past its retention period. None when there was nothing to do: today's run is
    done or running, or another process claimed it. `force` runs again on a day already done (the
    command line); `dry_run` only counts."""
    now = now or services.clock()
    cutoffs = Cutoffs.at(services, now)
    if dry_run:
        return _preview(services, now, cutoffs)
    state = _claim(services, now, cutoffs, trigger, force)
    if state is None:
        return None
    _Purge(services, now, cutoffs, state).run()
    # Counts only: never anything that names a person.
    log.info("retention purge done: %s", state["counts"])
    return Report(cutoffs, dict(state["counts"]))


@dataclass(frozen=True)
class Status:
    """The settings and the last run, for the console."""

    retention_days: int
    webhook_body_retention_days: int
    last_run_on: str | None
    finished_at: str | None
    counts: dict[str, int]


def status(session: Session, services: Services) -> Status:
    setting = session.get(DeskSetting, SETTING)
    value = (setting.value if setting else None) or {}
    return Status(services.config.retention_days, services.config.webhook_body_retention_days,
                  value.get("run_on"), value.get("finished_at"), dict(value.get("counts") or {}))

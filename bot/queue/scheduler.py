"""Periodic work, run by every worker: let lapsed holds go, send reminders (those REMINDERS chooses),
refresh LINE's message quota (handlers/quota.py: cached, so LINE is asked once per period however many
workers run this), and once a day purge what is past its retention period (bot/ops/retention.py).

Many workers may run this at once. Each reminder is claimed by a conditional update of its mark
(`... WHERE reminded_x_at IS NULL`), which only one transaction can win, so it is sent once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from conversations import notices
from conversations.schedule import TOKYO, to_tokyo
from models import Booking, LineUser
from models.booking import CONFIRMED, EXPIRED, HELD

from bot.ops import retention
from handlers import chats, quota, users
from bot.line.outbox import queue_answer
from bot.services import Services

log = logging.getLogger(__name__)


def _due(services: Services, booking: Booking, now: datetime) -> str | None:
    config = services.config
    if "hour_before" in config.reminders and booking.reminded_hour_before_at is None and now >= booking.starts_at - timedelta(
            minutes=config.reminder_minutes_before):
        return "hour_before"
    day_before = datetime.combine(to_tokyo(booking.starts_at).date() - timedelta(days=1),
                                  config.reminder_day_before, tzinfo=TOKYO)
    # Never a "tomorrow" reminder on the day itself (with REMINDERS=day_before, nothing else marks it done).
    if ("day_before" in config.reminders and booking.reminded_day_before_at is None
            and day_before <= now < day_before.replace(hour=0, minute=0) + timedelta(days=1)):
        return "day_before"
    return None


def _remind(services: Services, booking_id: int, when: str, now: datetime) -> bool:
    mark = Booking.reminded_hour_before_at if when == "hour_before" else Booking.reminded_day_before_at
    with services.db.transaction() as session:
        won = session.execute(
            update(Booking).where(Booking.id == booking_id, mark.is_(None), Booking.status == CONFIRMED)
            .values({mark.key: now})).rowcount
        if not won:
            return False
        booking = session.get(Booking, booking_id)
        if when == "hour_before" and booking.reminded_day_before_at is None:
            booking.reminded_day_before_at = now  # a day-before reminder is no longer worth sending
        user = session.get(LineUser, booking.user_id)
        if user.blocked:
            return False
        queue_answer(session, user, notices.reminder(services.desk_settings, booking.starts_at, booking.topic,
                                                     booking.join_url, when), "reminder", when, None, None, services)
    return True


def run_periodic(services: Services, now: datetime | None = None) -> dict[str, int]:
    now = now or services.clock()
    done = {"holds_expired": 0, "reminders": 0}
    with services.db.transaction() as session:
        done["holds_expired"] = session.execute(
            update(Booking).where(Booking.status == HELD, Booking.hold_expires_at <= now).values(status=EXPIRED)
        ).rowcount
        upcoming = session.scalars(select(Booking).where(
            Booking.status == CONFIRMED, Booking.starts_at > now, Booking.starts_at <= now + timedelta(days=2),
            or_(Booking.reminded_day_before_at.is_(None), Booking.reminded_hour_before_at.is_(None)),
        )).all()
        due = [(b.id, when) for b in upcoming if (when := _due(services, b, now))]
    for booking_id, when in due:
        done["reminders"] += _remind(services, booking_id, when, now)
    done.update(chats.sweep(services, now))
    try:
        quota.refresh(services)
    except Exception:  # noqa: BLE001  the quota is for the console; the rest of the periodic work must go on
        log.exception("LINE quota refresh failed")
    with services.db.transaction() as session:
        done["restrictions_lifted"] = users.lift_expired_restrictions(session, now)
    # Last: on the day's first tick a long purge must not hold up this tick's reminders.
    purged = retention.run(services, now)
    if purged is not None:
        done["retention_purged"] = sum(purged.counts.values())
    if any(done.values()):
        log.info("periodic work: %s", done)
    return done

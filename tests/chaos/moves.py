"""The fault suite's population with the issue-19 journeys: `MovingDriver` answers the questions the booking gained (who attends, the
returning user's offer), moves some bookings to another date and time (日時を変更, each move one
PATCH of the same Teams event), and reports a same-day contact (遅れる・参加できない → 遅れる) when a
session is today (after the run's night, tests/chaos/days.py). `check_moves` is the invariant the
moves add: every confirmed booking's live Teams event is at the booking's time; `check_same_day`
that the population did make same-day contacts.

To use it, run.py builds `MovingDriver` instead of `Driver` and adds `check_moves` to its checks
(done in run.py; the decisions are unit-tested in test_moves.py, the suite itself is `make chaos`).
"""

from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy import func, select

from collections import Counter

from conversations.schedule import to_tokyo
from models import Booking
from models.database import Database
from tests.chaos.driver import DATE_LABEL, TIME_LABEL, Driver, first_date_mostly

MOVE_SHARE = 0.25  # of a booked user's later events, those that start a move (chatter otherwise)
SAME_DAY = ("遅れる・参加できない", "遅れる", "10分")


def next_step(rng, said, buttons, booked, wants_cancel, text, tap):
    """The moves' and the new questions' answers; None: the base population decides."""
    if "ご一緒に参加される方" in said and "なし" in buttons:
        return tap(buttons["なし"])
    if "前回と同じ内容で入力" in buttons:
        return tap(buttons["前回と同じ内容で入力"])
    if not booked or wants_cancel:
        return None
    for label in SAME_DAY:  # only offered on the session's day
        if label in buttons:
            return tap(buttons[label])
    if "変更しますか" in said and "はい" in buttons:
        return tap(buttons["はい"])
    if "変更先の時間" in said:
        times = [label for label in buttons if TIME_LABEL.match(label)]
        return tap(buttons[rng.choice(times)]) if times else text("メニュー")
    if "変更先の日" in said:
        dates = [label for label in buttons if DATE_LABEL.match(label)]
        return tap(buttons[first_date_mostly(rng, dates)]) if dates else text("メニュー")
    if "日時を変更" in buttons:
        return tap(buttons["日時を変更"])
    if rng.random() < MOVE_SHARE and "予約の確認・キャンセル" in buttons:
        return tap(buttons["予約の確認・キャンセル"])
    return None


class MovingDriver(Driver):
    @staticmethod
    def _next(rng, said, buttons, booked, wants_cancel, text, tap):
        return next_step(rng, said, buttons, booked, wants_cancel, text, tap) or \
            Driver._next(rng, said, buttons, booked, wants_cancel, text, tap)


def check_moves(graph, db: Database) -> list[str]:
    """Every confirmed booking's one live event starts and ends at the booking's (moved) time."""
    live = defaultdict(list)
    for event in list(graph.events.values()):
        match = re.match(r"desk-booking-(\d+)-", event.get("transactionId") or "")
        if match and not event["cancelled"]:
            live[int(match.group(1))].append(event)
    with db.transaction() as session:
        rows = session.execute(select(Booking.id, Booking.reference, Booking.starts_at, Booking.ends_at)
                               .where(Booking.status == "confirmed", Booking.graph_event_id.is_not(None))).all()
    wrong = [f"{reference}: event at {[e['_start'] for e in live[booking_id]]}, booking at {starts}"
             for booking_id, reference, starts, ends in rows
             if [(e["_start"], e["_end"]) for e in live[booking_id]] != [(starts, ends)]]
    return [f"moved bookings whose Teams event is elsewhere: {wrong[:5]}"] if wrong else []


def check_same_day(db: Database, log=print) -> list[str]:
    """After the night, users whose session was that day said so (遅れる・参加できない)."""
    with db.transaction() as session:
        contacts = session.scalar(select(func.count()).select_from(Booking)
                                  .where(Booking.same_day_contact.is_not(None)))
        days = Counter(f"{to_tokyo(starts):%a %d %H:%M}/{status}" for starts, status in
                       session.execute(select(Booking.starts_at, Booking.status)))
    log(f"same-day contacts (遅れる・参加できない) on the day after the night: {contacts}; "
        f"bookings by session and status: {dict(sorted(days.items()))}")
    return [] if contacts else ["no user made a same-day contact (遅れる・参加できない) after the night"]

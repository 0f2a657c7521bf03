"""Chat consultation's weekly figures: requests in the week asked, waits of answered chats, those
who gave up waiting, outcomes and ratings; on the statistics page and in its CSV."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers import figures
from handlers.periods import Period
from models import Chat, LineUser

TOKYO = ZoneInfo("Asia/Tokyo")
MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=TOKYO)  # 2026-W47


def seed(services) -> None:
    """Week 47: four answered chats (waits 1, 2, 3 and 10 minutes), one left the line, one nobody
    took; week 48 begins with Sunday 23:30 UTC of week 47 being Monday in Tokyo."""
    rows = [  # (requested, waited minutes or None, ended_by, outcome, satisfaction)
        (MONDAY, 1, "operator", "resolved", 5),
        (MONDAY + timedelta(hours=1), 2, "user", "booking", 3),
        (MONDAY + timedelta(days=1), 3, "silence", None, None),
        (MONDAY + timedelta(days=2), 10, "operator", "referred", 4),
        (MONDAY + timedelta(days=3), None, "left", None, None),
        (MONDAY + timedelta(days=4), None, "no_answer", None, None),
        (datetime(2026, 11, 23, 0, 30, tzinfo=TOKYO), 4, "operator", "resolved", None),  # Monday of W48
    ]
    with services.db.transaction() as session:
        for n, (requested, waited, ended_by, outcome, satisfaction) in enumerate(rows):
            user = LineUser(line_user_id=f"U{n:032x}")
            session.add(user)
            session.flush()
            taken = requested + timedelta(minutes=waited) if waited is not None else None
            session.add(Chat(user_id=user.id, status="ended", requested_at=requested, taken_at=taken,
                             ended_at=requested + timedelta(minutes=40), ended_by=ended_by, outcome=outcome,
                             satisfaction=satisfaction))


def stats(services):
    with services.db.transaction() as session:
        return figures.compute(session, Period.covering(MONDAY.date(), MONDAY.date() + timedelta(days=7)))


def test_each_week_counts_requests_answers_those_who_gave_up_and_the_waits(services):
    seed(services)
    week47, week48, total = stats(services).chats
    assert (week47.label, week47.requested, week47.answered, week47.abandoned) == ("2026-W47", 6, 4, 2)
    assert (week47.wait(0.5), week47.wait(0.9)) == ("2.0", "10.0")
    assert (week48.requested, week48.answered, week48.wait(0.5)) == (1, 1, "4.0")
    assert (total.requested, total.answered, total.abandoned) == (7, 5, 2)


def test_outcomes_and_the_average_rating_are_counted_and_a_week_without_chats_shows_dashes(services):
    seed(services)
    week47, week48, total = stats(services).chats
    assert week47.outcomes == {"resolved": 1, "booking": 1, "referred": 1}
    assert (week47.satisfaction, len(week47.ratings)) == ("4.0", 3)
    assert total.outcomes["resolved"] == 2
    with services.db.transaction() as session:
        empty = figures.compute(session, Period.covering(MONDAY.date() - timedelta(days=14), MONDAY.date() - timedelta(days=8)))
    assert empty.chat_rows()[0][4:6] == ["-", "-"]


def test_the_csv_holds_the_chat_table_after_the_funnel(services):
    seed(services)
    text = figures.to_csv(stats(services)).decode("utf-8-sig")
    assert "チャット相談の申込" in text
    assert "2026-W47,6,4,2,2.0,10.0,1,1,1,4.0,3" in text.replace("\r\n", "\n")

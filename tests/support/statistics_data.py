"""A known set of rows for the statistics tests, and the figures they must give.

Today is Sunday 22 November 2026 (Tokyo); the default period is the 12 ISO weeks from Monday
31 August to that Sunday. Times are Tokyo times: a follow at 23:30 on Sunday the 15th belongs to
week 46 although it is the 15th in UTC too, and one at 00:30 on Monday the 16th (still the 15th in
UTC) belongs to week 47, so bucketing by UTC day would get them wrong.

Every user has personal data planted where a careless query could pick it up (booking details,
message text, the LINE user id); none of it may reach the statistics page or its CSV.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.demo import load_demo_data
from models import Booking, Counsellor, LineUser, MessageLog, PolicyConsent

TOKYO = ZoneInfo("Asia/Tokyo")
TODAY = datetime(2026, 11, 22, 12, 0, tzinfo=TOKYO)
STEPS = ["topic", "age", "date", "time", "name", "furigana", "email", "phone", "consultation", "attendant", "summary"]

# Personal data that must never appear in the statistics.
PERSONAL = {
    "u1": ("山田 花子", "yamada.hanako.private@example.jp", "09011112222"),
    "u2": ("佐藤 次郎", "sato.jiro.private@example.jp", "08033334444"),
    "u3": ("鈴木 三郎", "suzuki.saburo.private@example.jp", "07055556666"),
    "u4": ("高橋 四子", "takahashi.yotsuko.private@example.jp", "09077778888"),
    "u5": ("田中 五郎", "tanaka.goro.private@example.jp", "08099990000"),
}
SECRET_TEXT = "借金が三百万円あって誰にも言えない"


def tokyo(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def line_user_id(key: str) -> str:
    return f"Usecret{key}".ljust(33, "0")


# Expected figures per ISO week (only weeks with something are listed; all others are zero).
EXPECTED_WEEKS = {
    "2026-W46": {"new_friends": 2, "consents_agreed": 1, "consents_declined": 1,
                 "confirmed": {"キャリア・転職": 1}, "cancelled_by_user": 0, "cancelled_by_desk": 0,
                 "attended": 1, "no_show": 0},
    "2026-W47": {"new_friends": 4, "consents_agreed": 4, "consents_declined": 0,
                 "confirmed": {"キャリア・転職": 2, "収入・家計": 1, "その他": 1}, "cancelled_by_user": 1,
                 "cancelled_by_desk": 1, "attended": 0, "no_show": 1},
}
# Distinct users who reached each step of the booking flow in the period, then confirmed.
EXPECTED_FUNNEL = {"topic": 7, "age": 6, "date": 6, "time": 6, "name": 6, "furigana": 5, "email": 5,
                   "phone": 5, "consultation": 5, "attendant": 5, "summary": 5, "confirmed": 5}


def seed(db) -> None:
    load_demo_data(db)
    with db.transaction() as session:
        counsellors = list(session.scalars(select(Counsellor).order_by(Counsellor.id)))
        users = {}
        for key in ("u1", "u2", "u3", "u4", "u5", "u6", "u7", "old"):
            users[key] = LineUser(line_user_id=line_user_id(key), created_at=tokyo(11, 1))
            session.add(users[key])
        session.flush()
        users["u5"].erased_at = tokyo(11, 20)  # erased users still count

        def log(key, at, kind="text", flow=None, step=None, direction="in", text=None):
            session.add(MessageLog(user_id=users[key].id, direction=direction, created_at=at, kind=kind,
                                   text=text if text is not None else SECRET_TEXT, payload={"text": SECRET_TEXT},
                                   flow=flow, step=step))

        # Follows: W46 two, W47 four (u1 again after a block); one the day before the period.
        log("u1", tokyo(11, 10), "follow", text="")
        log("u2", tokyo(11, 15, 23, 30), "follow", text="")
        log("u3", tokyo(11, 16, 0, 30), "follow", text="")
        log("u4", tokyo(11, 17), "follow", text="")
        log("u5", tokyo(11, 18), "follow", text="")
        log("u1", tokyo(11, 19), "follow", text="")
        log("old", tokyo(8, 30, 23, 0), "follow", text="")
        log("u6", tokyo(11, 18), "unfollow", text="")  # not a follow
        log("u6", tokyo(11, 18, 11), "text", text=SECRET_TEXT)

        consents = [("u1", tokyo(11, 10, 10, 1), True), ("u2", tokyo(11, 15, 23, 40), False),
                    ("u2", tokyo(11, 16, 1), True), ("u3", tokyo(11, 16, 9), True), ("u4", tokyo(11, 17), True),
                    ("u5", tokyo(11, 18), True), ("old", tokyo(8, 30, 23, 1), True)]
        for key, at, agreed in consents:
            session.add(PolicyConsent(user_id=users[key].id, policy_version="2026-04-01", agreed=agreed, created_at=at))

        # The booking flow: u1-u5 went all the way; u6 stopped at the topic, u7 after the name.
        reached = {"u1": STEPS, "u2": STEPS, "u3": STEPS, "u4": STEPS + ["edit"], "u5": STEPS,
                   "u6": ["topic"], "u7": STEPS[:5]}
        for key, steps in reached.items():
            at = tokyo(11, 9) if key == "u1" else tokyo(11, 16, 1) if key == "u2" else tokyo(11, 17)
            for i, step in enumerate(steps):
                log(key, at + timedelta(minutes=2 * i), "text", "booking", step, direction="out", text="質問")
                log(key, at + timedelta(minutes=2 * i + 1), "text", "booking", step, text=SECRET_TEXT)
        log("u6", tokyo(11, 20), "text", "booking", "topic", direction="out")  # the same user again: once
        log("old", tokyo(8, 20), "text", "booking", "topic")  # before the period
        log("u7", tokyo(11, 17), "text", "consent", "policy")  # another flow

        def booking(key, ref, topic, starts, status, confirmed=None, cancelled=None, by=None, counsellor=0):
            name, email, phone = PERSONAL.get(key, ("古川 七海", "old.private@example.jp", "09000000000"))
            session.add(Booking(reference=ref, user_id=users[key].id, counsellor_id=counsellors[counsellor].id,
                                topic=topic, starts_at=starts, ends_at=starts + timedelta(minutes=30),
                                status=status, name=None if key == "u5" else name,
                                furigana=None if key == "u5" else "ヒミツ", age=25,
                                email=None if key == "u5" else email, phone=None if key == "u5" else phone,
                                consultation=None if key == "u5" else SECRET_TEXT,
                                created_at=confirmed or starts - timedelta(days=2), confirmed_at=confirmed,
                                cancelled_at=cancelled, cancelled_by=by))

        booking("u1", "STAT0001", "キャリア・転職", tokyo(11, 12), "attended", confirmed=tokyo(11, 10, 12))
        booking("u2", "STAT0002", "収入・家計", tokyo(11, 25), "cancelled", confirmed=tokyo(11, 16, 2),
                cancelled=tokyo(11, 17), by="user")
        booking("u3", "STAT0003", "キャリア・転職", tokyo(11, 19), "no_show", confirmed=tokyo(11, 17, 11))
        booking("u4", "STAT0004", "キャリア・転職", tokyo(11, 26), "cancelled", confirmed=tokyo(11, 18),
                cancelled=tokyo(11, 18, 15), by="operator", counsellor=1)
        booking("u5", "STAT0005", "その他", tokyo(11, 25, 11), "confirmed", confirmed=tokyo(11, 18, 9))
        booking("u4", "STAT0006", "キャリア・転職", tokyo(11, 27), "expired")  # held, never confirmed
        booking("old", "STAT0007", "キャリア・転職", tokyo(8, 25), "attended", confirmed=tokyo(8, 20))

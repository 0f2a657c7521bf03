"""The chaos population's moves and new answers (tests/chaos/moves.py), decided from what the user's
phone shows, and the invariant they add, checked against the fake Graph's events."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from bot.demo import load_demo_data
from models import Booking, Counsellor, LineUser
from tests.chaos.moves import MovingDriver, check_moves

TOKYO = ZoneInfo("Asia/Tokyo")


def decide(said: str, labels: list[str], booked: bool = True, wants_cancel: bool = False, seed: int = 1):
    buttons = {label: {"label": label} for label in labels}
    return MovingDriver._next(random.Random(seed), said, buttons, booked, wants_cancel,
                              lambda text: ("text", text), lambda action: ("tap", action["label"]))


def test_the_population_answers_the_new_questions_of_the_booking():
    assert decide("当日、ご一緒に参加される方はいますか？", ["なし", "通訳の方"], booked=False) == ("tap", "なし")
    assert decide("前回のご予約の内容です。", ["前回と同じ内容で入力", "新しく入力する"], booked=False) == \
        ("tap", "前回と同じ内容で入力")
    assert decide("年齢をご入力ください（例：25）。", ["戻る"], booked=False) == ("text", "25")


def test_a_booked_user_moves_their_booking_step_by_step():
    assert decide("ご予約の内容です。", ["日時を変更", "キャンセルする"]) == ("tap", "日時を変更")
    assert decide("変更先の日をお選びください。", ["12/3(木)", "戻る"]) == ("tap", "12/3(木)")
    assert decide("12月3日(木) の空き時間\n変更先の時間をお選びください。", ["14:00", "戻る"]) == ("tap", "14:00")
    assert decide("…に変更しますか？", ["はい", "いいえ"]) == ("tap", "はい")


def test_on_the_day_a_booked_user_says_they_will_be_late():
    assert decide("ご予約の内容です。", ["遅れる・参加できない", "メニュー"]) == ("tap", "遅れる・参加できない")
    assert decide("お知らせください。", ["遅れる", "参加できない"]) == ("tap", "遅れる")
    assert decide("どのくらい遅れそうですか？", ["5分", "10分"]) == ("tap", "10分")


def test_a_user_who_wants_to_cancel_still_cancels():
    assert decide("ご予約の内容です。", ["日時を変更", "キャンセルする"], wants_cancel=True) == ("tap", "キャンセルする")


def test_the_invariant_finds_a_confirmed_booking_whose_event_kept_its_old_time(services):
    load_demo_data(services.db)
    start = datetime(2026, 12, 3, 14, 0, tzinfo=TOKYO)
    with services.db.transaction() as session:
        user = LineUser(line_user_id="U" + "9" * 32)
        session.add(user)
        session.flush()
        counsellor = session.query(Counsellor).first()
        booking = Booking(reference="MOVE-0001", user_id=user.id, counsellor_id=counsellor.id, topic="その他",
                          starts_at=start, ends_at=start + timedelta(minutes=30), status="confirmed",
                          graph_event_id="evt-1")
        session.add(booking)
        session.flush()
        booking_id = booking.id
    event = {"transactionId": f"desk-booking-{booking_id}-0", "cancelled": False,
             "_start": start, "_end": start + timedelta(minutes=30)}
    graph = SimpleNamespace(events={"evt-1": event})
    assert check_moves(graph, services.db) == []
    event["_start"] = start - timedelta(days=1)
    assert "MOVE-0001" in check_moves(graph, services.db)[0]

"""予約の確認 → 日時を変更: a user moves their booking to another date and time under the same rules,
keeping one booking (same reference, same meeting), and two people never get the same slot."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.demo import load_demo_data
from bot.queue import scheduler
from models import Booking, Counsellor, LocalMeeting
from tests.support.chat import TUESDAY_MORNING, Chat, at, never_says, offers, play, says, send, tap
from tests.support.scripts import AGREED, BOOKED, pushed

TOKYO = ZoneInfo("Asia/Tokyo")


def live_bookings(services) -> list[Booking]:
    with services.db.transaction() as session:
        return list(session.scalars(select(Booking).where(Booking.status.in_(("held", "confirmed")))
                                    .order_by(Booking.id)))


def meetings(services) -> list[LocalMeeting]:
    with services.db.transaction() as session:
        return list(session.scalars(select(LocalMeeting)))


TO_MOVE = [
    (tap("予約の確認・キャンセル"), says("12月2日(水) 10:00〜10:30"), offers("日時を変更", "キャンセルする")),
    (tap("日時を変更"), says("現在のご予約：12月2日(水) 10:00〜10:30", "変更先の日"), offers("12/3(木)"),
     at("my_bookings", "move_date")),
    (tap("12/3(木)"), says("12月3日(木) の空き時間"), at("my_bookings", "move_time")),
    (tap("14:00"), says("12月2日(水) 10:00〜10:30", "12月3日(木) 14:00〜14:30", "変更しますか"),
     at("my_bookings", "move_sure")),
]


def test_a_user_moves_their_booking_and_keeps_one_booking_with_the_same_reference_and_meeting(
        chat, services, worker, fake_line):
    play(chat, BOOKED)
    worker.run_until_idle()
    [before] = live_bookings(services)
    [meeting] = meetings(services)
    play(chat, TO_MOVE + [
        (tap("はい"), says("日時を変更しました", "12月3日(木) 14:00〜14:30", before.reference, "変わりません",
                         "10分を過ぎても"), at(None, None)),
    ])
    worker.run_until_idle()
    [after] = live_bookings(services)
    assert (after.id, after.reference, after.status) == (before.id, before.reference, "confirmed")
    assert after.starts_at == datetime(2026, 12, 3, 14, 0, tzinfo=TOKYO)
    assert after.graph_event_id == meeting.id and after.join_url == before.join_url
    [moved] = meetings(services)
    assert (moved.id, moved.cancelled_at) == (meeting.id, None)
    assert moved.starts_at == after.starts_at and "12月3日(木) 14:00" in moved.subject
    play(chat, [(send("メニュー"),), (tap("予約の確認・キャンセル"), says("12月3日(木) 14:00〜14:30"),
                                     never_says("12月2日(水) 10:00"))])
    # The reminders follow the new time: none on the evening of the 1st, one on the evening of the 2nd.
    scheduler.run_periodic(services, datetime(2026, 12, 1, 18, 0, tzinfo=TOKYO))
    worker.run_until_idle()
    assert not [m for m in pushed(fake_line, chat.user_id) if m.get("altText", "").startswith("明日は")]
    scheduler.run_periodic(services, datetime(2026, 12, 2, 18, 0, tzinfo=TOKYO))
    worker.run_until_idle()
    [reminder] = [m for m in pushed(fake_line, chat.user_id) if m.get("altText", "").startswith("明日は")]
    assert "12月3日(木) 14:00" in reminder["altText"]


def test_saying_no_or_leaving_keeps_the_booking_and_lets_the_new_time_go(chat, services):
    play(chat, BOOKED + TO_MOVE + [(tap("いいえ"), says("変更を取りやめました", "12月2日(水) 10:00〜10:30"))])
    [kept] = live_bookings(services)
    assert kept.starts_at == datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO)
    play(chat, [(send("メニュー"),)] + TO_MOVE + [(send("やめる"), says("キャンセルしていません"))])
    assert [b.starts_at for b in live_bookings(services)] == [datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO)]


def test_the_current_booking_cannot_be_moved_on_line_after_its_cut_off(chat, services):
    play(chat, BOOKED)
    chat.now = datetime(2026, 12, 1, 11, 55, tzinfo=TOKYO)
    play(chat, [(tap("予約の確認・キャンセル"), offers("日時を変更"))])
    listing = chat.last
    chat.now = datetime(2026, 12, 1, 12, 0, tzinfo=TOKYO)  # booking for the 2nd closed at noon on the 1st
    answer = chat.tap("日時を変更", listing)
    assert "期限を過ぎています" in answer.text and "043-000-0000" in answer.text
    play(chat, [(send("メニュー"),), (tap("予約の確認・キャンセル"), never_says("日時を変更"), offers("キャンセルする"))])


def test_a_day_whose_cut_off_passed_while_choosing_is_refused(chat, services):
    # Booked for Friday the 4th; moving on Tuesday morning offers Wednesday the 2nd.
    play(chat, AGREED + [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("25"),), (tap("12/4(金)"),),
                         (tap("10:00"),), (send("山田 太郎"),), (send("ヤマダ タロウ"),), (send("taro@example.jp"),),
                         (send("09012345678"),), (send("相談です"),), (tap("なし"),), (tap("確定"), says("ご予約が確定しました"))])
    chat.now = datetime(2026, 12, 1, 11, 50, tzinfo=TOKYO)
    play(chat, [(tap("予約の確認・キャンセル"),), (tap("日時を変更"), offers("12/2(水)"))])
    chat.now = datetime(2026, 12, 1, 12, 0, tzinfo=TOKYO)  # booking for the 2nd closed at noon
    play(chat, [(send("12/2"), says("12月2日(水)はご予約いただけません"), at("my_bookings", "move_date")),
                (send("メニュー"),), (tap("予約の確認・キャンセル"),), (tap("日時を変更"), never_says("12/2(水)"))])


def test_the_one_active_booking_rule_holds_while_moving(chat, services):
    play(chat, BOOKED + TO_MOVE[:-1])
    play(chat, [(tap("14:00"), at("my_bookings", "move_sure"))])
    assert len(live_bookings(services)) == 2  # the booking, and the new time held
    play(chat, [(send("メニュー"),), (tap("相談を予約する"), says("すでにご予約があります"))])
    assert len(live_bookings(services)) == 1


def only_aoki(services) -> None:
    """One counsellor for キャリア・転職, so a slot is one place that only one person can have."""
    load_demo_data(services.db)
    with services.db.transaction() as session:
        keep = session.scalar(select(Counsellor.id).where(Counsellor.email.like("aoki%")))
        session.execute(update(Counsellor).where(Counsellor.id != keep).values(active=False))


def test_a_new_time_whose_hold_lapsed_and_was_taken_is_refused_and_the_booking_stays(services):
    only_aoki(services)
    chat = Chat(services, "U" + "a" * 32, TUESDAY_MORNING)
    play(chat, BOOKED + TO_MOVE)
    chat.later(minutes=20)  # the hold lapsed
    rival = Chat(services, "U" + "r" * 32)
    play(rival, AGREED + [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("30"),),
                          (tap("12/3(木)"),), (tap("14:00"), says("仮予約しました"))])
    play(chat, [(tap("はい"), says("埋まってしまいました", "元の日時のまま"), at("my_bookings", "move_date"))])
    mine = [b for b in live_bookings(services) if b.status == "confirmed"]
    assert [b.starts_at for b in mine] == [datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO)]


def test_a_new_time_whose_hold_lapsed_but_is_still_free_is_moved_to(services):
    only_aoki(services)
    chat = Chat(services, "U" + "a" * 32, TUESDAY_MORNING)
    play(chat, BOOKED + TO_MOVE)
    chat.later(minutes=20)
    scheduler.run_periodic(services, chat.now)  # the lapsed hold is marked expired
    play(chat, [(tap("はい"), says("日時を変更しました", "12月3日(木) 14:00"))])
    assert [b.starts_at for b in live_bookings(services)] == [datetime(2026, 12, 3, 14, 0, tzinfo=TOKYO)]


@pytest.mark.parametrize("racers", [2, 4])
def test_a_user_moving_and_others_booking_the_same_slot_at_once_never_share_it(services, racers):
    only_aoki(services)
    mover = Chat(services, "U" + "m" * 32, TUESDAY_MORNING)
    play(mover, BOOKED)
    play(mover, [(send("メニュー"),)] + TO_MOVE[:3])
    others = [Chat(services, f"U{n:0>32}", TUESDAY_MORNING) for n in range(racers - 1)]
    for other in others:
        play(other, AGREED + [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("25"),), (tap("12/3(木)"),)])

    start = threading.Barrier(racers)
    answers: dict[int, str] = {}

    def race(n: int) -> None:
        chat = mover if n == 0 else others[n - 1]
        start.wait()
        answers[n] = chat.tap("14:00").text

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    got = [n for n, text in answers.items() if "変更しますか" in text or "仮予約しました" in text]
    refused = [n for n, text in answers.items() if "ちょうど埋まりました" in text]
    assert len(got) == 1 and len(refused) == racers - 1, answers
    if got == [0]:
        assert "日時を変更しました" in mover.tap("はい").text
    with services.db.transaction() as session:
        at_slot = session.scalars(select(Booking).where(
            Booking.status.in_(("held", "confirmed")),
            Booking.starts_at == datetime(2026, 12, 3, 14, 0, tzinfo=TOKYO))).all()
        assert len(at_slot) == 1
        mine = session.scalars(select(Booking).where(Booking.status == "confirmed")).all()
        assert len(mine) == 1  # the mover still has exactly one booking, moved or not

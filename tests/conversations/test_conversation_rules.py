"""The desk's booking rules as users meet them: cut-off, holidays, the cap, cancelling, safety, pauses."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import Booking, DeskSetting, LineUser
from models.desk_setting import MAINTENANCE
from tests.support.chat import Chat, at, never_says, offers, play, says, send, tap
from tests.support.scripts import AGREED, DETAILS, UP_TO_NAME

TOKYO = ZoneInfo("Asia/Tokyo")
BOOKED = UP_TO_NAME + DETAILS + [(tap("確定"), says("ご予約が確定しました"))]


def statuses(services) -> list[str]:
    with services.db.transaction() as session:
        return list(session.scalars(select(Booking.status).order_by(Booking.id)))


def test_tomorrow_can_be_booked_until_noon_today(chat):
    chat.now = datetime(2026, 12, 1, 11, 59, tzinfo=TOKYO)
    play(chat, AGREED + [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("25"), offers("12/2(水)"))])


def test_tomorrow_can_no_longer_be_booked_from_noon_today(chat):
    chat.now = datetime(2026, 12, 1, 12, 0, tzinfo=TOKYO)
    play(chat, AGREED + [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("25"), offers("12/3(木)")),
                         (send("12/2"), says("12月2日(水)はご予約いただけません"))])
    assert "12/2(水)" not in chat.last.labels


def test_public_holidays_and_weekends_are_closed(chat):
    chat.now = datetime(2026, 11, 19, 9, 0, tzinfo=TOKYO)  # the Thursday before 勤労感謝の日 (Mon 23rd)
    play(chat, AGREED + [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("25"), offers("11/20(金)", "11/24(火)"))])
    assert not {"11/21(土)", "11/22(日)", "11/23(月)"} & set(chat.last.labels)
    play(chat, [(send("11/23"), says("11月23日(月)はご予約いただけません"))])


def test_days_the_operator_closed_are_not_offered(chat, services):
    rules = replace(services.desk_settings.rules, extra_closed_days=frozenset({datetime(2026, 12, 2).date()}))
    services.desk_settings = replace(services.desk_settings, rules=rules)
    play(chat, AGREED + [(tap("相談を予約する"),), (tap("キャリア・転職"),), (send("25"), offers("12/3(木)"))])
    assert "12/2(水)" not in chat.last.labels


def test_one_active_booking_per_user(chat):
    play(chat, BOOKED + [
        (tap("相談を予約する"), says("すでにご予約があります"), offers("予約の確認・キャンセル"), at(None, None)),
    ])


def test_my_bookings_lists_the_booking_and_cancels_it_after_confirmation(chat, services):
    play(chat, BOOKED + [
        (tap("予約の確認・キャンセル"), says("12月2日(水) 10:00〜10:30", "キャリア・転職"), offers("キャンセルする")),
        (tap("キャンセルする"), says("キャンセルしますか"), offers("はい", "いいえ")),
        (tap("いいえ"), says("ご予約はそのまま")),
        (tap("予約の確認・キャンセル"),), (tap("キャンセルする"),),
        (tap("はい"), says("キャンセルしました"), at(None, None)),
        (tap("予約の確認・キャンセル"), says("ご予約はありません")),
    ])
    assert statuses(services) == ["cancelled"]


def test_on_the_day_cancelling_is_by_phone(chat, services):
    play(chat, BOOKED)
    chat.now = datetime(2026, 12, 2, 8, 0, tzinfo=TOKYO)
    play(chat, [(tap("予約の確認・キャンセル"), says("当日のキャンセル・変更はお電話", "043-000-0000"),
                 never_says("キャンセルする"))])
    assert statuses(services) == ["confirmed"]


def test_the_evening_before_cancelling_still_works(chat, services):
    play(chat, BOOKED)
    chat.now = datetime(2026, 12, 1, 23, 30, tzinfo=TOKYO)
    play(chat, [(tap("予約の確認・キャンセル"),), (tap("キャンセルする"),), (tap("はい"), says("キャンセルしました"))])
    assert statuses(services) == ["cancelled"]


def test_a_hold_lost_while_the_user_paused_asks_for_another_time_and_keeps_the_answers(chat, services):
    play(chat, AGREED + [(tap("相談を予約する"),), (tap("その他"),), (send("25"),), (tap("12/2(水)"),), (tap("13:00"),)] + DETAILS)
    chat.later(minutes=20)  # past the 15-minute hold, within the 30-minute flow timeout
    rival = Chat(services, "U" + "f" * 32, chat.now)
    play(rival, AGREED + [(tap("相談を予約する"),), (tap("その他"),), (send("25"),), (tap("12/2(水)"),),
                          (tap("13:00"), says("仮予約しました"))])
    play(chat, [
        (tap("確定"), says("仮予約の期限が過ぎ", "日時を選び直して"), at("booking", "date")),
        (tap("12/2(水)"),), (tap("14:00"), says("ご予約内容の確認", "ヤマダ タロウ", "14:00"), at("booking", "summary")),
        (tap("確定"), says("ご予約が確定しました")),
    ])


def test_an_expired_hold_nobody_took_is_simply_confirmed(chat, services):
    play(chat, UP_TO_NAME + DETAILS)
    chat.later(minutes=20)
    play(chat, [(tap("確定"), says("ご予約が確定しました"))])
    assert statuses(services) == ["confirmed"]


@pytest.mark.parametrize("words", ["もう死にたいです", "消えたい", "自殺を考えてしまう"])
def test_words_of_crisis_bring_hotlines_at_once_and_flag_the_user(chat, services, words):
    play(chat, UP_TO_NAME + [
        (send(words), says("いのちの電話", "よりそいホットライン"), at("booking", "name")),
        (send("山田 太郎"), says("フリガナ")),
    ])
    with services.db.transaction() as session:
        assert session.scalar(select(LineUser.flagged_at)) is not None


def test_words_of_crisis_are_answered_even_before_consent(chat):
    play(chat, [(send("死にたい"), says("いのちの電話"))])


def test_while_paused_every_input_gets_the_notice_with_its_end(chat, services):
    play(chat, AGREED)
    with services.db.transaction() as session:
        session.add(DeskSetting(key=MAINTENANCE, value={"on": True, "notice": "システム更新のため停止中です。",
                                                        "until": "12月1日 18:00"}))
    play(chat, [
        (tap("相談を予約する"), says("一時停止", "システム更新のため停止中です。", "12月1日 18:00")),
        (send("こんにちは"), says("一時停止")),
    ])


def test_a_restricted_user_is_told_respectfully_and_cannot_book(chat, services):
    play(chat, AGREED)
    with services.db.transaction() as session:
        user = session.scalar(select(LineUser))
        user.restricted_at, user.restriction_reason = chat.now, "利用規約違反"
    play(chat, [(tap("相談を予約する"), says("予約をお受けできません", "043-000-0000"),
                 never_says("利用規約違反"), at(None, None))])

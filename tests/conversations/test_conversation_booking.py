"""Booking a consultation, as scripts of what the user does and what the bot must answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.demo import load_demo_data
from bot.services import Services
from models import Booking
from tests.support.chat import Chat, at, never_says, offers, play, says, send, tap
from tests.support.scripts import AGREED, DETAILS, UP_TO_NAME

TOKYO = ZoneInfo("Asia/Tokyo")

def bookings(services) -> list[Booking]:
    with services.db.transaction() as session:
        return list(session.scalars(select(Booking).order_by(Booking.id)))


def test_a_new_friend_agrees_and_books_a_consultation(chat, services):
    play(chat, UP_TO_NAME + DETAILS + [
        (tap("確定"), says("ご予約が確定しました", "12月2日(水) 10:00〜10:30", "キャリア・転職", "予約番号",
                         "Microsoft Teams", "個室", "録音・録画", "前日まで"), at(None, None)),
    ])
    [booking] = bookings(services)
    assert booking.status == "confirmed"
    assert (booking.name, booking.furigana, booking.age) == ("山田 太郎", "ヤマダ タロウ", 25)
    assert (booking.email, booking.phone) == ("Taro@example.jp", "09012345678")
    assert booking.starts_at == datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO)
    assert booking.reference in chat.last.text


def test_nothing_personal_is_asked_before_consent(chat):
    answer = chat.follow()
    assert "お名前" not in answer.text
    answer = chat.send("予約したい")
    assert answer.flow == "consent"
    assert "お名前" not in answer.text


def test_each_detail_is_asked_again_kindly_when_it_does_not_fit(chat):
    play(chat, UP_TO_NAME + [
        (send("12345"), says("お名前を40文字以内"), at("booking", "name")),
        (send("山田 太郎"), says("フリガナ")),
        (send("山田"), says("カタカナ"), at("booking", "furigana")),
        (send("ﾔﾏﾀﾞ ﾀﾛｳ"), says("メールアドレス")),
        (send("taro@"), at("booking", "email")),
        (send("taro@example.jp"), says("電話番号")),
        (send("123"), at("booking", "phone")),
        (send("+81 90 1234 5678"), says("ご相談内容")),
        (send("あ" * 401), says("400文字以内", "401文字"), at("booking", "consultation")),
        (send("相談です"), at("booking", "attendant")),
        (send("いない"), says("ボタンから"), at("booking", "attendant")),
        (send("なし"), says("ヤマダ タロウ", "090-1234-5678"), at("booking", "summary")),
    ])


def test_the_age_is_asked_right_after_the_topic_before_any_date_or_other_personal_question(chat, services):
    play(chat, AGREED + [
        (tap("相談を予約する"),),
        (tap("キャリア・転職"), says("年齢"), never_says("ご希望の日", "お名前", "メール", "電話"), at("booking", "age")),
    ])
    assert bookings(services) == []  # no time is held yet


def test_someone_too_old_is_told_at_once_to_go_to_hello_work_and_nothing_is_held(chat, services):
    play(chat, AGREED + [
        (tap("相談を予約する"),), (tap("キャリア・転職"),),
        (send("45"), says("15歳から39歳まで", "ハローワーク"), never_says("子供SOS", "お名前"),
         at(None, None), offers("相談を予約する")),
    ])
    assert bookings(services) == []


def test_someone_too_young_is_pointed_kindly_to_their_school_and_the_childrens_helpline(chat, services):
    play(chat, AGREED + [
        (tap("相談を予約する"),), (tap("その他"),),
        (send("13歳"), says("15歳から39歳まで", "学校の先生", "24時間子供SOSダイヤル", "0120-0-78310"),
         never_says("ハローワーク", "お名前"), at(None, None)),
    ])
    assert bookings(services) == []


def test_the_referrals_come_from_the_settings(services, clock):
    desk = replace(services.config.desk, age_min=18, age_max=34, under_age_contact="県の若者相談ダイヤル 0000-00-0000",
                   over_age_contact="県の中高年就労支援センター")
    other = Services.create(services.config.but(desk=desk), clock=clock)
    try:
        load_demo_data(other.db)
        young, old = Chat(other, "U" + "y" * 32), Chat(other, "U" + "o" * 32)
        for chat, age, expected in ((young, "17", "県の若者相談ダイヤル 0000-00-0000"),
                                    (old, "35", "県の中高年就労支援センター")):
            play(chat, AGREED + [(tap("相談を予約する"),), (tap("その他"),),
                                 (send(age), says("18歳から34歳まで", expected), at(None, None))])
    finally:
        other.close()


def test_an_age_changed_from_the_summary_to_one_outside_the_range_ends_kindly_and_frees_the_slot(chat, services):
    play(chat, UP_TO_NAME + DETAILS + [
        (tap("修正"),), (tap("年齢"), says("年齢"), at("booking", "age")),
        (send("45"), says("ハローワーク"), at(None, None), offers("相談を予約する")),
    ])
    assert [b.status for b in bookings(services)] == ["released"]


def test_three_wrong_answers_bring_the_phone_number_instead_of_a_loop(chat):
    play(chat, AGREED + [
        (tap("相談を予約する"),), (tap("キャリア・転職"),),
        (send("わからない"), never_says("043-000-0000")),
        (send("たくさん"), never_says("043-000-0000")),
        (send("ひみつ"), says("043-000-0000", "ヘルプ", "やめる"), at("booking", "age")),
        (send("30"), says("ご希望の日")),
    ])


def test_the_summary_can_be_corrected_and_comes_back(chat):
    play(chat, UP_TO_NAME + DETAILS + [
        (tap("修正"), offers("日時", "お名前", "ご相談内容")),
        (tap("お名前"), says("お名前"), at("booking", "name")),
        (send("山田 花子"), says("ご予約内容の確認", "山田 花子", "ヤマダ タロウ"), at("booking", "summary")),
        (tap("修正"),),
        (tap("日時"), at("booking", "date")),
        (tap("12/3(木)"), at("booking", "time")),
        (tap("13:00"), says("12月3日(木) 13:00〜13:30", "ご予約内容の確認"), at("booking", "summary")),
        (tap("確定"), says("ご予約が確定しました", "12月3日(木) 13:00")),
    ])


def test_a_typed_date_and_time_are_understood(chat):
    play(chat, AGREED + [
        (tap("相談を予約する"),), (send("キャリア・転職"), says("年齢")), (send("25"), says("ご希望の日")),
        (send("12月2日"), says("12月2日(水) の空き時間")),
        (send("13時半"), says("13:30〜14:00 を仮予約しました（9:15まで）")),
    ])


def test_the_calendar_picker_chooses_a_date(chat):
    play(chat, AGREED + [
        (tap("相談を予約する"),), (tap("収入・家計"),), (send("25"),),
        (tap("カレンダーから選ぶ", date="2026-12-10"), says("12月10日(木) の空き時間")),
    ])


def test_a_closed_or_unknown_date_is_asked_again(chat):
    play(chat, AGREED + [
        (tap("相談を予約する"),), (tap("その他"),), (send("25"),),
        (send("12/5"), says("12月5日(土)はご予約いただけません"), at("booking", "date")),
        (send("あした"), says("12/1"), at("booking", "date")),
    ])


def test_a_topic_or_time_that_is_not_offered_is_asked_again(chat):
    play(chat, AGREED + [
        (tap("相談を予約する"),),
        (send("宇宙旅行"), says("テーマを、ボタンから"), offers("キャリア・転職"), at("booking", "topic")),
        (tap("その他"),), (send("25"),), (tap("12/2(水)"),),
        (send("9時"), says("時間は", "10:00"), at("booking", "time")),
        (send("ランチのあと"), at("booking", "time")),
        (send("13時"), says("13:00〜13:30 を仮予約しました"), at("booking", "name")),
    ])

"""A returning user is offered 前回と同じ内容で入力 for their name, reading, e-mail and phone: shown
to check, editable from the summary; after erasure nothing is offered."""

from __future__ import annotations

from sqlalchemy import select

from handlers.users import erase
from models import Booking, LineUser
from tests.support.chat import at, never_says, offers, play, says, send, tap
from tests.support.scripts import BOOKED, UP_TO_NAME

AGAIN = [
    (send("メニュー"),), (tap("予約の確認・キャンセル"),), (tap("キャンセルする"),), (tap("はい"), says("キャンセルしました")),
    (tap("相談を予約する"),), (tap("その他"),), (send("25"),), (tap("12/3(木)"),),
    (tap("13:00"), says("前回のご予約の内容です", "山田 太郎", "ヤマダ タロウ", "Taro@example.jp", "090-1234-5678"),
     offers("前回と同じ内容で入力", "新しく入力する"), at("booking", "reuse")),
]


def bookings(services) -> list[Booking]:
    with services.db.transaction() as session:
        return list(session.scalars(select(Booking).order_by(Booking.id)))


def test_a_new_user_is_asked_each_detail_without_an_offer(chat):
    play(chat, UP_TO_NAME)  # the time held: straight to the name
    assert chat.last.step == "name" and "前回" not in chat.last.text


def test_a_returning_user_reuses_their_details_and_sees_them_in_the_summary(chat, services):
    play(chat, BOOKED + AGAIN + [
        (tap("前回と同じ内容で入力"), says("ご相談内容"), at("booking", "consultation")),
        (send("前回の続きを相談したいです"), at("booking", "attendant")),
        (tap("なし"), says("ご予約内容の確認", "山田 太郎", "ヤマダ タロウ", "Taro@example.jp",
                                              "090-1234-5678"), at("booking", "summary")),
        (tap("確定"), says("ご予約が確定しました", "12月3日(木) 13:00")),
    ])
    second = bookings(services)[-1]
    assert (second.name, second.furigana, second.email, second.phone) == (
        "山田 太郎", "ヤマダ タロウ", "Taro@example.jp", "09012345678")
    assert second.consultation == "前回の続きを相談したいです"


def test_a_reused_detail_can_be_corrected_from_the_summary(chat, services):
    play(chat, BOOKED + AGAIN + [
        (tap("前回と同じ内容で入力"),), (send("相談です"),), (tap("なし"), at("booking", "summary")),
        (tap("修正"),), (tap("メールアドレス"), at("booking", "email")),
        (send("new.taro@example.jp"), says("new.taro@example.jp"), at("booking", "summary")),
        (tap("確定"), says("ご予約が確定しました")),
    ])
    assert bookings(services)[-1].email == "new.taro@example.jp"


def test_entering_new_details_asks_each_one(chat):
    play(chat, BOOKED + AGAIN + [(tap("新しく入力する"), says("お名前"), at("booking", "name"))])


def test_after_erasure_nothing_is_offered(chat, services):
    play(chat, BOOKED + [(send("メニュー"),), (tap("予約の確認・キャンセル"),), (tap("キャンセルする"),), (tap("はい"),)])
    with services.db.transaction() as session:
        user = session.scalar(select(LineUser))
        erase(session, user.id, chat.now)
    play(chat, [(send("メニュー"),), (tap("相談を予約する"),), (tap("その他"),), (send("25"),), (tap("12/3(木)"),),
                (tap("13:00"), says("お名前"), never_says("前回", "山田"), at("booking", "name"))])

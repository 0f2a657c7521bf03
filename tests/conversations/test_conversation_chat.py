"""A person answers: asking for one, waiting in line, the chat itself, and how it ends (issue 17)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conversations.inputs import Postback
from handlers import chats
from models.chat import ACTIVE, ENDED, WAITING
from tests.support.chat import Chat, never_says, offers, play, says, send, tap
from tests.support.chat_desk import chats_of, on_duty, operator, queued_for, text_of
from tests.support.scripts import AGREED

TOKYO = ZoneInfo("Asia/Tokyo")
TUESDAY_ELEVEN = datetime(2026, 12, 1, 11, 0, tzinfo=TOKYO)


@pytest.fixture
def open_desk(chat, services):
    """Inside the chat hours with one counsellor available; the chat's user has agreed to the policy."""
    chat.now = TUESDAY_ELEVEN
    play(chat, AGREED)
    return on_duty(services)


def take(services, chat_id: int, operator_id: int) -> None:
    with services.db.transaction() as session:
        chats.take(services, session, chat_id, operator(session, operator_id))


def test_asking_for_a_person_puts_the_user_in_line_and_says_how_many_wait_before_them(chat, services, open_desk):
    play(chat, [(send("人と話したい"), says("順番待ちに登録しました", "次にご案内します"), offers("順番待ちをやめる"))])
    second = Chat(services, "U" + "b" * 32)
    play(second, AGREED + [(tap("チャット相談"), says("前に1人お待ちです"))])
    assert [c.status for c in chats_of(services, chat.user_id)] == [WAITING]


@pytest.mark.parametrize("asked", ["相談員と話したい", "チャットで相談したい！", "電話で相談したい", "誰かと話したい…",
                                   "ｵﾍﾟﾚｰﾀｰと話したい", "話を聞いてほしい"])
def test_the_usual_ways_of_asking_for_a_person_are_understood(chat, services, open_desk, asked):
    play(chat, [(send(asked), says("順番待ちに登録しました"))])


def test_a_question_about_the_phone_is_not_taken_for_a_request_to_chat(chat, services, open_desk):
    play(chat, [(send("電話で相談できますか？"), never_says("順番待ち"))])
    assert chats_of(services, chat.user_id) == []


def test_a_new_user_agrees_to_the_policy_before_joining_the_line(chat, services):
    chat.now = TUESDAY_ELEVEN
    on_duty(services)
    play(chat, [
        (send("人と話したい"), says("利用規約"), offers("同意する")),
        (tap("同意する"), says("ご同意いただき", "順番待ちに登録しました")),
    ])


def test_before_the_chat_hours_the_user_is_told_when_chat_opens_and_offered_a_booking_and_the_phone(
        chat, services, open_desk):
    chat.now = TUESDAY_ELEVEN.replace(hour=9, minute=30)
    play(chat, [(send("チャット相談"), says("受付時間外", "平日10:00〜18:30", "12月1日(火) 10:00から", "043-000-0000"),
                 offers("相談を予約する"))])
    assert chats_of(services, chat.user_id) == []


def test_on_a_public_holiday_the_chat_opens_on_the_next_working_day(chat, services, open_desk):
    chat.now = datetime(2027, 1, 11, 11, 0, tzinfo=TOKYO)  # 成人の日, a Monday
    play(chat, [(send("チャット相談"), says("受付時間外", "1月12日(火) 10:00から"))])


def test_with_nobody_available_the_user_is_offered_a_booking_and_the_phone(chat, services):
    chat.now = TUESDAY_ELEVEN
    on_duty(services, available=False)
    play(chat, AGREED + [(send("チャット相談"), says("対応できる相談員がいません", "043-000-0000"),
                          offers("相談を予約する"), never_says("順番待ちに登録"))])


def test_a_waiting_user_leaves_the_line_with_yameru(chat, services, open_desk):
    play(chat, [(send("チャット相談"), says("順番待ち")), (send("やめる"), says("順番待ちをやめました"))])
    assert [c.status for c in chats_of(services, chat.user_id)] == [ENDED]


def test_during_a_chat_the_bot_is_silent_and_keeps_the_reply_token_for_the_operator(chat, services, open_desk):
    play(chat, [(send("チャット相談"), says("順番待ち"))])
    take(services, chats_of(services, chat.user_id)[0].id, open_desk)
    assert "相談員につながりました" in text_of(queued_for(services, chat.user_id)[-1])
    assert chat.send("残業代が出ないんです").messages == []
    assert chat.send("メニュー").messages == []  # the operator answers, not the menu
    assert [c.status for c in chats_of(services, chat.user_id)] == [ACTIVE]


def test_the_user_ends_the_chat_with_shuuryou_and_may_rate_it_once(chat, services, open_desk):
    play(chat, [(send("チャット相談"), says("順番待ち"))])
    take(services, chats_of(services, chat.user_id)[0].id, open_desk)
    play(chat, [
        (send("終了"), says("チャット相談を終了しました", "満足度"), offers("5", "1", "回答しない")),
        (tap("4"), says("ご回答ありがとうございました")),
    ])
    again = chat.turn(Postback(f"chat:rate:{chats_of(services, chat.user_id)[0].id}:5"))
    assert "すでにいただいています" in again.text
    assert chats_of(services, chat.user_id)[0].satisfaction == 4


def test_nobody_taking_the_chat_in_time_tells_the_user_and_offers_other_ways(chat, services, open_desk):
    play(chat, [(send("チャット相談"), says("順番待ち"))])
    chat.later(minutes=9)
    assert chats.sweep(services, chat.now)["chats_unanswered"] == 0
    chat.later(minutes=1)
    assert chats.sweep(services, chat.now)["chats_unanswered"] == 1
    told = queued_for(services, chat.user_id)[-1]
    assert "相談員におつなぎできません" in text_of(told) and "043-000-0000" in text_of(told)
    assert chats_of(services, chat.user_id)[0].ended_by == "no_answer"


def test_a_chat_nobody_writes_in_for_thirty_minutes_ends_and_asks_for_a_rating(chat, services, open_desk):
    play(chat, [(send("チャット相談"), says("順番待ち"))])
    take(services, chats_of(services, chat.user_id)[0].id, open_desk)
    chat.later(minutes=20)
    chat.send("まだいますか")
    chat.later(minutes=20)
    assert chats.sweep(services, chat.now)["chats_silent"] == 0  # the user wrote 20 minutes ago
    chat.later(minutes=10)
    assert chats.sweep(services, chat.now)["chats_silent"] == 1
    assert "30分間やりとりがなかったため" in text_of(queued_for(services, chat.user_id)[-1])


def test_an_operator_cannot_answer_a_chat_another_operator_took(chat, services, open_desk):
    other = on_duty(services, "other@desk.example.jp", "別の 相談員")
    play(chat, [(send("チャット相談"), says("順番待ち"))])
    chat_id = chats_of(services, chat.user_id)[0].id
    take(services, chat_id, open_desk)
    with pytest.raises(chats.ChatError, match="すでに他の相談員"):
        take(services, chat_id, other)
    with services.db.transaction() as session, pytest.raises(chats.ChatError, match="他の相談員が対応"):
        chats.send(services, session, chat_id, operator(session, other), "text", "こんにちは")


def test_an_operators_text_longer_than_line_allows_is_refused_with_the_count(chat, services, open_desk):
    play(chat, [(send("チャット相談"), says("順番待ち"))])
    chat_id = chats_of(services, chat.user_id)[0].id
    take(services, chat_id, open_desk)
    with services.db.transaction() as session, pytest.raises(chats.ChatError, match="5,000文字まで"):
        chats.send(services, session, chat_id, operator(session, open_desk), "text", "あ" * 5001)


def test_words_of_crisis_during_a_chat_get_the_hotlines_at_once_and_mark_the_chat(chat, services, open_desk):
    play(chat, [(send("チャット相談"), says("順番待ち"))])
    take(services, chats_of(services, chat.user_id)[0].id, open_desk)
    play(chat, [(send("もう死にたい"), says("0120-279-338"))])
    assert chats_of(services, chat.user_id)[0].crisis


def test_blocking_the_account_ends_an_open_chat(chat, services, open_desk):
    play(chat, [(send("チャット相談"), says("順番待ち"))])
    chat.unfollow()
    assert [c.status for c in chats_of(services, chat.user_id)] == [ENDED]

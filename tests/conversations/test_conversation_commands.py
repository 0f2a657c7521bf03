"""Never stuck: やめる, 戻る, メニュー and ヘルプ at any step, stale buttons, time-outs, odd input."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Booking
from tests.support.chat import (
    TUESDAY_MORNING,
    Chat,
    at,
    never_says,
    offers,
    play,
    says,
    send,
    tap,
)
from tests.support.scripts import AGREED, DETAILS, UP_TO_NAME


def holds(services) -> list[str]:
    with services.db.transaction() as session:
        return list(session.scalars(select(Booking.status).order_by(Booking.id)))


@pytest.mark.parametrize("word", ["やめる", "キャンセル", "中止"])
def test_quitting_at_the_name_step_leaves_nothing_half_saved(chat, services, word):
    play(chat, UP_TO_NAME + [
        (send(word), says("中止しました", "保存していません"), offers("相談を予約する"), at(None, None)),
    ])
    assert holds(services) == ["released"]


def test_quitting_from_the_summary_releases_the_slot(chat, services):
    play(chat, UP_TO_NAME + DETAILS + [(tap("やめる"), says("中止しました"), at(None, None))])
    assert holds(services) == ["released"]


def test_quitting_at_the_topic_step_returns_to_the_menu(chat):
    play(chat, AGREED + [(tap("相談を予約する"),), (send("やめる"), says("中止しました"), offers("相談を予約する"))])


def test_back_returns_to_the_previous_question_and_keeps_the_answers(chat):
    play(chat, UP_TO_NAME + [
        (send("山田 太郎"), at("booking", "furigana")),
        (send("戻る"), says("お名前"), at("booking", "name")),
        (send("戻る"), says("空き時間"), at("booking", "time")),
        (tap("11:00"), says("11:00〜11:30"), at("booking", "name")),
    ])
    assert chat.state().answers["name"] == "山田 太郎"


def test_back_at_the_first_question_says_so_and_asks_again(chat):
    play(chat, AGREED + [(tap("相談を予約する"),), (send("戻る"), says("これより前には戻れません", "テーマ"))])


@pytest.mark.parametrize("word", ["メニュー", "最初から"])
def test_menu_leaves_the_flow_at_any_step(chat, services, word):
    play(chat, UP_TO_NAME + [(send("山田 太郎"),), (send(word), offers("相談を予約する"), at(None, None))])
    assert holds(services) == ["released"]


def test_help_explains_the_step_and_asks_again(chat):
    play(chat, UP_TO_NAME + [
        (send("ヘルプ"), says("例：山田 太郎", "お名前"), at("booking", "name")),
        (send("山田 太郎"),), (send("ヤマダ タロウ"),), (send("20"),),
        (send("ヘルプ"), says("例：taro@example.jp"), at("booking", "email")),
    ])


def test_help_outside_a_flow_explains_the_commands(chat):
    play(chat, AGREED + [(send("ヘルプ"), says("戻る", "やめる"), offers("相談を予約する"))])


def test_a_button_from_an_earlier_question_is_no_longer_available(chat):
    play(chat, AGREED + [(tap("相談を予約する"),)])
    topics = chat.last
    play(chat, [(tap("キャリア・転職"), at("booking", "age"))])
    answer = chat.tap("収入・家計", topics)
    assert "その選択肢は現在ご利用いただけません" in answer.text
    assert (answer.flow, answer.step) == ("booking", "age") and "年齢" in answer.text


def test_a_button_from_an_abandoned_booking_is_no_longer_available(chat):
    play(chat, AGREED + [(tap("相談を予約する"),)])
    topics = chat.last
    play(chat, [(send("やめる"),), (tap("相談を予約する"),)])
    answer = chat.tap("その他", topics)
    assert "その選択肢は現在ご利用いただけません" in answer.text
    assert answer.step == "topic"


def test_a_time_taken_by_someone_else_meanwhile_is_refused_and_times_shown_again(chat, services):
    play(chat, AGREED + [(tap("相談を予約する"),), (tap("その他"),), (send("25"),), (tap("12/2(水)"),)])
    times = chat.last
    # Two counsellors cover その他 at 10:00: two rivals take it with both.
    for n in range(2):
        rival = Chat(services, f"U{n:0>32}", TUESDAY_MORNING)
        play(rival, AGREED + [(tap("相談を予約する"),), (tap("その他"),), (send("25"),), (tap("12/2(水)"),), (tap("10:00"),)])
    answer = chat.tap("10:00", times)
    assert "ちょうど埋まりました" in answer.text
    assert answer.step == "time" and "10:00" not in answer.labels


def test_a_sticker_mid_flow_gets_the_text_only_note_and_the_question_again(chat):
    play(chat, UP_TO_NAME + [(chat_sticker, says("文字のメッセージとボタン", "お名前"), at("booking", "name"))])


def chat_sticker(chat: Chat):
    return chat.sticker()


def test_a_flow_left_for_thirty_minutes_is_reset_and_the_next_message_says_so(chat, services):
    play(chat, UP_TO_NAME)
    chat.later(minutes=31)
    answer = chat.send("山田 太郎")
    assert "30分以上経った" in answer.text
    assert (answer.flow, answer.step) == (None, None)
    assert holds(services) == ["released"]


def test_a_flow_within_thirty_minutes_carries_on(chat):
    play(chat, UP_TO_NAME)
    chat.later(minutes=29)
    play(chat, [(send("山田 太郎"), says("フリガナ"), never_says("30分以上"))])


def test_a_text_the_faq_cannot_answer_is_told_so_plainly_with_the_ways_on(chat):
    play(chat, AGREED + [(send("こんにちは"), says("お答えできる内容が見つかりませんでした", "043-000-0000"),
                          offers("相談を予約する", "電話をかける", "よくある質問"), never_says("チャット相談"))])


def test_the_faq_lists_its_questions_and_the_desk_phone_and_answers_a_tapped_one(chat):
    play(chat, AGREED + [
        (tap("よくある質問・お問い合わせ"), says("相談の費用", "予約の締め切り", "043-000-0000"), offers("相談の費用")),
        (tap("相談の費用"), says("無料", "通信料")),
    ])

"""Typed questions: answered from the FAQ outside a flow and inside one, never taken as an answer;
an admin's published entry answers too. On SQLite and PostgreSQL."""

from __future__ import annotations

from handlers import faq
from tests.support.chat import at, never_says, offers, play, says, send, tap
from tests.support.scripts import AGREED, UP_TO_NAME


def test_typed_questions_outside_a_flow_are_answered_with_the_desks_own_figures(chat):
    play(chat, AGREED + [
        (send("何時まで相談できますか"), says("10:00〜12:00、13:00〜18:30"), never_says("メニューからお選び")),
        (send("相談ってお金かかる？"), says("無料")),
        (send("何歳まで利用できますか"), says("15歳〜39歳")),
        (send("当日キャンセルしたい"), says("当日のキャンセル・変更は、お電話", "043-000-0000")),
        (send("遅刻したらどうなる？"), says("10分を過ぎても", "欠席")),
    ])


def test_an_answer_follows_the_settings_when_they_change(chat, services):
    from dataclasses import replace
    services.desk_settings = replace(services.desk_settings, phone="03-1111-2222", age_max=34)
    play(chat, AGREED + [(send("電話番号おしえて"), says("03-1111-2222"), never_says("043-000-0000")),
                         (send("何歳まで？"), says("15歳〜34歳"))])


def test_a_question_typed_at_the_name_step_is_answered_and_the_name_asked_again(chat):
    play(chat, UP_TO_NAME + [
        (send("電話で相談できますか？"), says("043-000-0000", "お名前"), at("booking", "name")),
        (send("相談ってお金かかる"), says("無料", "お名前"), at("booking", "name")),
        (send("山田 太郎"), says("フリガナ"), at("booking", "furigana")),
        (send("キャンセルってどうやるの？"), says("予約の確認・キャンセル", "フリガナ"), at("booking", "furigana")),
        (send("ヤマダ タロウ"), says("メールアドレス"), at("booking", "email")),
    ])


def test_a_consultation_text_that_asks_the_counsellor_something_is_kept(chat):
    play(chat, UP_TO_NAME + [
        (send("山田 太郎"),), (send("ヤマダ タロウ"),), (send("taro@example.jp"),), (send("09012345678"),),
        (send("転職したほうがいいのか迷っています。どうすればいいですか？"), says("ご一緒に参加される方")),
        (tap("なし"), says("ご予約内容の確認", "転職したほうがいいのか"), at("booking", "summary")),
    ])


def test_a_question_about_the_desk_at_the_consultation_step_is_answered_and_asked_again(chat):
    play(chat, UP_TO_NAME + [
        (send("山田 太郎"),), (send("ヤマダ タロウ"),), (send("taro@example.jp"),), (send("09012345678"),),
        (send("相談って無料ですか？"), says("無料", "ご相談内容を"), at("booking", "consultation")),
    ])


def test_commands_are_understood_in_their_usual_forms(chat):
    play(chat, UP_TO_NAME + [
        (send("山田 太郎"), at("booking", "furigana")),
        (send("もどる"), says("お名前"), at("booking", "name")),
        (send("戻りたい"), at("booking", "time")),
        (send("最初から"), at(None, None)),
        (tap("相談を予約する"), at("booking", "topic")),
        (send("やめたい"), says("中止しました"), at(None, None)),
    ])


def test_cancel_typed_in_my_bookings_says_plainly_that_nothing_was_cancelled(chat, services):
    from tests.support.scripts import BOOKED
    play(chat, BOOKED + [
        (tap("予約の確認・キャンセル"), offers("キャンセルする")),
        (send("キャンセル"), says("ご予約はキャンセルしていません"), never_says("中止しました"), at(None, None)),
        (tap("予約の確認・キャンセル"), says("12月2日(水) 10:00〜10:30")),
    ])


def test_a_published_console_entry_answers_and_a_withdrawn_one_does_not(chat, services):
    with services.db.transaction() as session:
        faq.save_draft(session, faq.Draft("parking", "駐車場", ["駐車場はありますか"], ["駐車場"],
                                          "駐車場はありません。お電話：{phone}", []))
    play(chat, AGREED + [(send("駐車場ある？"), says("見つかりませんでした"))])
    with services.db.transaction() as session:
        assert faq.publish(session, "parking", None, chat.now)
    play(chat, [(send("駐車場ある？"), says("駐車場はありません。お電話：043-000-0000"))])
    with services.db.transaction() as session:
        faq.withdraw(session, "cost", chat.now)
    play(chat, [(send("相談ってお金かかる？"), never_says("無料"))])


def test_an_address_or_number_that_checks_out_is_taken_whatever_words_come_with_it(chat):
    play(chat, UP_TO_NAME + [
        (send("山田 太郎"),), (send("ヤマダ タロウ"),), (send("25"),),
        (send("メールはどこに送ればいいですか？"), says("メールアドレス"), at("booking", "email")),
        (send("taro@example.jp"), at("booking", "phone")),
        (send("090-1234-5678"), says("ご相談内容"), at("booking", "consultation")),
    ])

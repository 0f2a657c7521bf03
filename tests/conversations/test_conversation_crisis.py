"""Words of crisis: recognised in their usual forms, answered with the hotlines and the truth about
who reads the chat, an operator alert without the text, and never a loop. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from conversations.crisis import mentions_crisis
from conversations.desk import DeskSettings
from models import Booking, LineUser, OperatorAlert
from tests.support.chat import at, never_says, play, says, send, tap
from tests.support.scripts import AGREED, UP_TO_NAME

FORMS = [
    "死にたい", "しにたい", "シニタイ", "ｼﾆﾀｲ", "もう死にたいです", "死にたくなる", "しにたくなった", "死のうかな",
    "死んでしまいたい", "死んじゃいたい", "死にてえ", "死ぬしかない", "タヒにたい", "し に た い", "死にたい…😢",
    "消えたい", "きえたい", "キエタイ", "消えてしまいたい", "消えちゃいたい", "消えてなくなりたい", "いなくなりたい",
    "イナクナリタイ", "もう生きるのがつらい", "生きるのが辛い", "生きるのがしんどい", "生きていたくない", "生きる意味がない",
    "生きてる意味がわからない", "全部終わりにしたい", "楽になりたい", "自殺したい", "じさつ", "リスカしちゃった",
    "リストカット", "ODした", "ＯＤしそう", "オーバードーズ", "薬を大量に飲んだ", "飛び降りたい", "首を吊りたい", "遺書を書いた",
]
NOT_CRISIS = ["転職したい", "残業がつらい", "消しゴム", "food@example.com", "goodbye", "山田 太郎", "090-1234-5678"]


def test_at_least_forty_forms_of_crisis_are_recognised_and_ordinary_words_are_not():
    words = DeskSettings().crisis_words
    assert len(FORMS) >= 40
    assert [f for f in FORMS if not mentions_crisis(f, words)] == []
    assert [t for t in NOT_CRISIS if mentions_crisis(t, words)] == []


def test_crisis_words_are_a_setting_the_desk_can_change():
    assert mentions_crisis("もう限界", ("限界",))
    assert not mentions_crisis("死にたい", ("限界",))


@pytest.mark.parametrize("words", ["消えてしまいたい", "シニタイ", "もう生きるのがつらい"])
def test_the_hotlines_come_with_hours_cost_and_whether_a_person_reads_the_chat(chat, words):
    play(chat, AGREED + [
        (send(words), says("よりそいホットライン 0120-279-338（24時間・無料）", "いのちの電話 0570-783-556（10:00〜22:00",
                           "こころの健康相談統一ダイヤル 0570-064-556", "まもろうよ こころ", "119番",
                           "相談員が読んでいません", "043-000-0000"),
         never_says("チャット相談")),
    ])


def test_an_operator_alert_is_raised_at_once_without_the_text_and_once_while_open(chat, services):
    play(chat, AGREED + [(send("もう消えたいです、山田です"),), (send("死にたい"),)])
    with services.db.transaction() as session:
        alerts = session.scalars(select(OperatorAlert).where(OperatorAlert.kind == "crisis_words")).all()
        assert len(alerts) == 1
        assert "消えたい" not in alerts[0].message and "山田" not in alerts[0].message
        assert session.scalar(select(LineUser.flagged_at)) is not None


def test_a_consultation_text_with_a_crisis_word_is_kept_and_the_booking_goes_on_marked(chat, services):
    text = "仕事がつらくて、もう消えたいと思うことがあります。"
    play(chat, UP_TO_NAME + [
        (send("山田 太郎"),), (send("ヤマダ タロウ"),), (send("taro@example.jp"),), (send("09012345678"),),
        (send(text), says("よりそいホットライン", "ご一緒に参加される方")),
        (tap("なし"), says("ご予約内容の確認", "もう消えたいと思う"), at("booking", "summary")),
        (tap("確定"), says("ご予約が確定しました")),
    ])
    with services.db.transaction() as session:
        booking = session.scalar(select(Booking))
        assert (booking.consultation, booking.attention) == (text, True)


def test_a_crisis_word_at_another_step_gets_the_hotlines_and_the_step_waits(chat):
    play(chat, UP_TO_NAME + [
        (send("しにたい"), says("いのちの電話", "落ち着いたときに"), at("booking", "name")),
        (send("山田 太郎"), says("フリガナ")),
    ])

"""The optional question about who attends with the user (an interpreter, a sign-language
interpreter, an assistant): shown in the summary and to the counsellor in the console, never in the
Teams invite, and erased with the user's other details."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import Services
from handlers import handoff
from handlers.users import erase
from models import Booking, Counsellor, LineUser
from tests.support.chat import at, offers, play, says, send, tap
from tests.support.console import create_operator, signed_in_client, text_of
from tests.support.scripts import UP_TO_NAME

UP_TO_ATTENDANT = UP_TO_NAME + [
    (send("山田 太郎"),), (send("ヤマダ タロウ"),), (send("taro@example.jp"),), (send("09012345678"),),
    (send("転職の相談です"), says("ご一緒に参加される方", "任意"), at("booking", "attendant")),
]


def booking(services) -> Booking:
    with services.db.transaction() as session:
        return session.scalar(select(Booking))


def test_a_user_says_a_sign_language_interpreter_attends_and_sees_it_in_the_summary(chat, services):
    play(chat, UP_TO_ATTENDANT + [
        (tap("手話通訳の方"), says("ご予約内容の確認", "同席者", "手話通訳の方"), at("booking", "summary")),
        (tap("修正"), offers("同席者")), (tap("同席者"), at("booking", "attendant")),
        (send("通訳"), says("通訳の方"), at("booking", "summary")),
        (tap("確定"), says("ご予約が確定しました")),
    ])
    assert booking(services).attendant == "interpreter"


def test_the_counsellor_sees_who_attends_in_the_console_but_not_in_the_teams_invite(app, chat, services):
    play(chat, UP_TO_ATTENDANT + [(tap("介助・付き添いの方"),), (tap("確定"),)])
    found = booking(services)
    create_operator(app)
    page = text_of(signed_in_client(app).get(f"/console/bookings/{found.reference}"))
    assert "同席者" in page and "介助・付き添いの方" in page
    detailed = Services.create(services.config.but(graph_invite_details=True), clock=services.clock)
    try:
        with detailed.db.transaction() as session:
            row = session.scalar(select(Booking))
            meeting = handoff._meeting(detailed, row, session.get(Counsellor, row.counsellor_id))
        assert "山田" in meeting.body_html  # the details the operator chose to put in the invite
        assert "付き添い" not in meeting.body_html and "付き添い" not in meeting.subject
    finally:
        detailed.close()


def test_erasure_blanks_who_attends(chat, services):
    play(chat, UP_TO_ATTENDANT + [(tap("手話通訳の方"),), (tap("確定"),),
                                  (tap("予約の確認・キャンセル"),), (tap("キャンセルする"),), (tap("はい"),)])
    with services.db.transaction() as session:
        erase(session, session.scalar(select(LineUser)).id, chat.now)
    assert booking(services).attendant is None

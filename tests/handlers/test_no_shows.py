"""No-shows: a kind notice after the first; at NO_SHOW_LIMIT within NO_SHOW_WINDOW_DAYS the operator
decides in the console (or, NO_SHOW_RESTRICTION=auto, booking is restricted at once); a restriction
has an end date (RESTRICTION_DAYS) that the user is told and at which it lifts by itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.demo import load_demo_data
from bot.queue import scheduler
from bot.queue.worker import Worker
from bot.services import Services
from handlers.attendance import mark
from models import Booking, Counsellor, LineUser, OperatorAlert
from tests.support.chat import Chat, play, says, send, tap
from tests.support.console import create_operator, post_form, signed_in_client, text_of
from tests.support.scripts import AGREED, pushed

TOKYO = ZoneInfo("Asia/Tokyo")
USER = "U" + "n" * 32


def tokyo(month: int, day: int, hour: int = 10, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=TOKYO)


def user_row(services) -> LineUser:
    with services.db.transaction() as session:
        return session.scalar(select(LineUser).where(LineUser.line_user_id == USER))


def missed(services, reference: str, starts: datetime, same_day_contact: str | None = None) -> None:
    """A confirmed session of the user at `starts`, then marked a no-show 15 minutes later."""
    with services.db.transaction() as session:
        user = session.scalar(select(LineUser).where(LineUser.line_user_id == USER))
        counsellor = session.scalar(select(Counsellor.id).order_by(Counsellor.id))
        session.add(Booking(reference=reference, user_id=user.id, counsellor_id=counsellor, topic="その他",
                            starts_at=starts, ends_at=starts + timedelta(minutes=30), status="confirmed",
                            confirmed_at=starts - timedelta(days=2), same_day_contact=same_day_contact))
    with services.db.transaction() as session:
        mark(session, services, reference, False, starts + timedelta(minutes=15))
    Worker(services).run_until_idle()


def texts(fake_line) -> list[str]:
    return [m.get("text", "") for m in pushed(fake_line, USER) if m.get("type") == "text"]


def new_user(services) -> Chat:
    load_demo_data(services.db)
    chat = Chat(services, USER)
    play(chat, AGREED)
    return chat


def alerts(services) -> list[OperatorAlert]:
    with services.db.transaction() as session:
        return list(session.scalars(select(OperatorAlert).where(OperatorAlert.kind == "no_show_review")))


def test_after_a_first_no_show_the_user_gets_a_kind_notice_and_can_book_again(services, fake_line):
    chat = new_user(services)
    missed(services, "MISS-0001", tokyo(11, 24))
    [notice] = texts(fake_line)
    assert "ご参加が確認できなかった" in notice and "いつでもご予約ください" in notice
    assert user_row(services).restricted_at is None and alerts(services) == []
    play(chat, [(tap("相談を予約する"), says("テーマ"))])


def test_at_the_limit_the_operator_is_asked_to_decide_and_the_user_is_not_yet_restricted(app, services, fake_line):
    chat = new_user(services)
    missed(services, "MISS-0001", tokyo(11, 20))
    missed(services, "MISS-0002", tokyo(11, 27))
    user = user_row(services)
    assert user.restricted_at is None and user.no_show_review_at is not None
    [alert] = alerts(services)
    assert f"#{user.id}" in alert.message and USER not in alert.message
    play(chat, [(tap("相談を予約する"), says("テーマ")), (send("やめる"),)])

    create_operator(app)
    admin = signed_in_client(app)
    page = text_of(admin.get(f"/console/users/{user.id}"))
    assert "判断待ち" in page and "制限しない" in page and "2026-12-01" not in page
    assert 'value="2027-03-01"' in page  # the end date offered: 90 days from Tuesday 1 December
    post_form(admin, f"/console/users/{user.id}", f"/console/users/{user.id}/restrict",
              {"reason": "連絡のない欠席が2回", "until": "2027-03-01"})
    Worker(services).run_until_idle()
    user = user_row(services)
    assert user.restricted_until == tokyo(3, 1, 0, 2027) and user.no_show_review_at is None
    assert alerts(services)[0].resolved_at is not None
    assert any("2027年3月1日からは、ふたたびLINEでご予約いただけます" in t for t in texts(fake_line))
    play(chat, [(tap("相談を予約する"), says("予約をお受けできません"))])

    # It lifts by itself on that day: at the user's next message, and by the periodic sweep.
    chat.now = tokyo(3, 1, 9, 2027)
    play(chat, [(tap("相談を予約する"), says("テーマ"))])
    assert user_row(services).restricted_at is None


def test_the_periodic_sweep_lifts_an_ended_restriction_without_the_user_writing(app, services):
    new_user(services)
    missed(services, "MISS-0001", tokyo(11, 20))
    missed(services, "MISS-0002", tokyo(11, 27))
    create_operator(app)
    admin = signed_in_client(app)
    user_id = user_row(services).id
    post_form(admin, f"/console/users/{user_id}", f"/console/users/{user_id}/restrict",
              {"reason": "欠席", "until": "2026-12-20"})
    scheduler.run_periodic(services, tokyo(12, 19, 23))
    assert user_row(services).restricted_at is not None
    scheduler.run_periodic(services, tokyo(12, 20, 0))
    assert user_row(services).restricted_at is None


def test_the_operator_may_decide_not_to_restrict(app, services):
    chat = new_user(services)
    missed(services, "MISS-0001", tokyo(11, 20))
    missed(services, "MISS-0002", tokyo(11, 27))
    create_operator(app)
    admin = signed_in_client(app)
    user_id = user_row(services).id
    refused = post_form(admin, f"/console/users/{user_id}", f"/console/users/{user_id}/keep-open", {"reason": " "})
    assert "理由を入力してください" in text_of(admin.get(refused.location))
    post_form(admin, f"/console/users/{user_id}", f"/console/users/{user_id}/keep-open",
              {"reason": "電話で事情を伺った"})
    assert user_row(services).no_show_review_at is None and user_row(services).restricted_at is None
    assert alerts(services)[0].resolved_at is not None
    play(chat, [(tap("相談を予約する"), says("テーマ"))])


def test_a_desk_set_to_automatic_restricts_at_the_limit_until_the_set_end_and_says_so(config, clock, fake_line):
    services = Services.create(config.but(no_show_restriction="auto", restriction_days=30), clock=clock)
    try:
        chat = new_user(services)
        missed(services, "MISS-0001", tokyo(11, 20))
        missed(services, "MISS-0002", tokyo(11, 27))
        user = user_row(services)
        assert user.restricted_until == tokyo(11, 27, 10) + timedelta(minutes=15, days=30)
        assert any("2回" in t and "2026年12月27日からは" in t for t in texts(fake_line))
        assert alerts(services) == []
        play(chat, [(tap("相談を予約する"), says("予約をお受けできません"))])
    finally:
        services.close()


def test_no_shows_outside_the_window_or_announced_on_the_day_do_not_count(config, clock, fake_line):
    services = Services.create(config.but(no_show_window_days=30), clock=clock)
    try:
        new_user(services)
        missed(services, "MISS-0001", tokyo(9, 1))  # more than 30 days before the next one
        missed(services, "MISS-0002", tokyo(11, 20), same_day_contact="absent")  # they told us that morning
        missed(services, "MISS-0003", tokyo(11, 27))
        assert user_row(services).no_show_review_at is None and alerts(services) == []
        missed(services, "MISS-0004", tokyo(11, 30))
        assert user_row(services).no_show_review_at is not None
    finally:
        services.close()


def test_the_settings_are_read_from_the_environment(tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path)}
    env = {**base, "NO_SHOW_LIMIT": "3", "NO_SHOW_WINDOW_DAYS": "60", "NO_SHOW_RESTRICTION": "auto",
           "RESTRICTION_DAYS": "45"}
    config = Config.from_env(env)
    assert (config.no_show_limit, config.no_show_window_days, config.no_show_restriction, config.restriction_days) == \
        (3, 60, "auto", 45)
    assert (Config.from_env(base).no_show_restriction, Config.from_env(base).restriction_days) == ("ask", 90)
    with pytest.raises(RuntimeError, match="NO_SHOW_RESTRICTION"):
        Config.from_env({**base, "NO_SHOW_RESTRICTION": "sometimes"})

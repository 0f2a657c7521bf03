"""On the day of a session, 予約の確認 offers 遅れる・参加できない: the user says how late they will be
or that they cannot come; it is recorded on the booking, the counsellor is alerted (console, and
the Teams channel when configured) without personal data, and the user is told what happens next."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.demo import load_demo_data
from bot.services import Services
from models import Booking, Job, OperatorAlert
from tests.support.chat import Chat, at, never_says, offers, play, says, send, tap
from tests.support.console import create_operator, signed_in_client, text_of
from tests.support.scripts import BOOKED

TOKYO = ZoneInfo("Asia/Tokyo")
MORNING_OF = datetime(2026, 12, 2, 9, 0, tzinfo=TOKYO)  # the session is at 10:00 that day
PERSONAL = ("山田", "ヤマダ", "Taro@example.jp", "09012345678", "090-1234-5678", "転職を考えています")


def row(services) -> Booking:
    with services.db.transaction() as session:
        return session.scalar(select(Booking))


def alerts(services) -> list[OperatorAlert]:
    with services.db.transaction() as session:
        return list(session.scalars(select(OperatorAlert).order_by(OperatorAlert.id)))


def test_the_day_before_only_cancelling_and_changing_are_offered(chat):
    play(chat, BOOKED + [(tap("予約の確認・キャンセル"), offers("キャンセルする", "日時を変更"),
                          never_says("遅れる・参加できない"))])


def test_a_user_running_late_says_how_late_and_the_counsellor_is_alerted_without_personal_data(chat, services):
    play(chat, BOOKED)
    chat.now = MORNING_OF
    play(chat, [
        (tap("予約の確認・キャンセル"), offers("遅れる・参加できない"), never_says("日時を変更"), says("お電話")),
        (tap("遅れる・参加できない"), offers("遅れる", "参加できない"), at("my_bookings", "day_what")),
        (tap("遅れる"), offers("5分", "15分", "30分"), at("my_bookings", "day_late")),
        (send("たくさん"), says("分で入力"), at("my_bookings", "day_late")),
        (send("１５分くらい"), says("15分ほど遅れることを、相談員に伝えました", "参加用リンク", "終了時刻は変わりません"),
         at(None, None)),
    ])
    booking = row(services)
    assert (booking.status, booking.same_day_contact, booking.late_minutes) == ("confirmed", "late", 15)
    assert booking.same_day_contact_at == MORNING_OF
    [alert] = alerts(services)
    assert alert.kind == "same_day_late" and alert.booking_id == booking.id
    assert booking.reference in alert.message and "15 minutes" in alert.message
    assert not any(p in alert.message for p in PERSONAL)


def test_a_late_session_already_under_way_can_still_be_reported(chat, services):
    play(chat, BOOKED)
    chat.now = datetime(2026, 12, 2, 10, 5, tzinfo=TOKYO)
    play(chat, [(tap("予約の確認・キャンセル"), offers("遅れる・参加できない")), (tap("遅れる・参加できない"),),
                (tap("遅れる"),), (tap("5分"), says("5分ほど遅れる"))])
    assert row(services).late_minutes == 5


def test_a_user_who_cannot_come_is_asked_to_call_as_the_seeds_say_and_the_counsellor_is_told(chat, services):
    play(chat, BOOKED)
    chat.now = MORNING_OF
    play(chat, [
        (tap("予約の確認・キャンセル"),), (tap("遅れる・参加できない"),),
        (tap("参加できない"), says("参加できないことを、相談員に伝えますか"), at("my_bookings", "day_absent")),
        (tap("はい"), says("相談員に伝えました", "当日のキャンセルはお電話", "043-000-0000", "平日10:00〜18:30"),
         at(None, None)),
    ])
    booking = row(services)
    assert (booking.status, booking.same_day_contact) == ("confirmed", "absent")
    [alert] = alerts(services)
    assert alert.kind == "same_day_absent" and not any(p in alert.message for p in PERSONAL)


def test_saying_no_changes_nothing(chat, services):
    play(chat, BOOKED)
    chat.now = MORNING_OF
    play(chat, [(tap("予約の確認・キャンセル"),), (tap("遅れる・参加できない"),), (tap("参加できない"),),
                (tap("いいえ"), says("ご予約はそのままです"))])
    assert row(services).same_day_contact is None and alerts(services) == []


def test_a_desk_that_allows_it_lets_the_user_cancel_on_the_day_on_line(services, clock, worker):
    config = services.config.but(desk=replace(services.config.desk, same_day_cancel_on_line=True))
    other = Services.create(config, clock=clock)
    try:
        load_demo_data(other.db)
        chat = Chat(other, "U" + "c" * 32)
        play(chat, BOOKED)
        chat.now = MORNING_OF
        play(chat, [(tap("予約の確認・キャンセル"),), (tap("遅れる・参加できない"),),
                    (tap("参加できない"), says("キャンセルしますか")),
                    (tap("はい"), says("キャンセルし、相談員にもお伝えしました"), never_says("お電話"))])
        booking = row(other)
        assert (booking.status, booking.cancelled_by, booking.same_day_contact) == ("cancelled", "user", "absent")
        with other.db.transaction() as session:
            assert session.scalar(select(Job.id).where(Job.kind == "teams_cancel")) is not None
    finally:
        other.close()


def test_the_alert_also_reaches_the_teams_channel_when_one_is_configured(services, clock):
    config = services.config.but(teams_alert_webhook_url="https://example.invalid/workflows/hook")
    other = Services.create(config, clock=clock)
    try:
        load_demo_data(other.db)
        chat = Chat(other, "U" + "d" * 32)
        play(chat, BOOKED)
        chat.now = MORNING_OF
        play(chat, [(tap("予約の確認・キャンセル"),), (tap("遅れる・参加できない"),), (tap("遅れる"),), (tap("10分"),)])
        with other.db.transaction() as session:
            [payload] = session.scalars(select(Job.payload).where(Job.kind == "teams_channel_alert")).all()
        assert payload == {"kind": "same_day_late"}
    finally:
        other.close()


def test_the_counsellor_reads_the_contact_on_the_booking_in_the_console(app, chat, services):
    play(chat, BOOKED)
    chat.now = MORNING_OF
    play(chat, [(tap("予約の確認・キャンセル"),), (tap("遅れる・参加できない"),), (tap("遅れる"),), (tap("20分"),)])
    create_operator(app)
    page = text_of(signed_in_client(app).get(f"/console/bookings/{row(services).reference}"))
    assert "当日の連絡" in page and "20分ほど遅れる" in page

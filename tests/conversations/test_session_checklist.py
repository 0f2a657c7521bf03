"""The seeds' checklist and 10-minute rule reach the user in the confirmation and in the reminder
an hour before the session, with the minutes taken from the settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.demo import load_demo_data
from bot.queue import scheduler
from bot.queue.worker import Worker
from bot.services import Services
from tests.support.chat import Chat, play, says, texts_in
from tests.support.scripts import BOOKED, pushed

TOKYO = ZoneInfo("Asia/Tokyo")
CHECKLIST = ("個室", "アプリ", "試して", "録音・録画・配信", "通信料")


def reminder_texts(fake_line, user_id: str, heading: str) -> list[str]:
    return ["\n".join(texts_in(m)) for m in pushed(fake_line, user_id) if heading in "\n".join(texts_in(m))]


def test_the_confirmation_gives_the_checklist_and_the_ten_minute_rule(chat):
    play(chat, BOOKED)
    confirmation = chat.last.text
    for item in CHECKLIST:
        assert item in confirmation, item
    assert "開始時刻から10分を過ぎても" in confirmation and "不参加" in confirmation


def test_the_reminder_an_hour_before_repeats_the_checklist_and_the_ten_minute_rule(chat, services, worker, fake_line):
    play(chat, BOOKED)
    worker.run_until_idle()
    scheduler.run_periodic(services, datetime(2026, 12, 1, 18, 0, tzinfo=TOKYO))
    worker.run_until_idle()
    [day_before] = reminder_texts(fake_line, chat.user_id, "明日はご相談の日です")
    assert "10分を過ぎても" not in day_before
    scheduler.run_periodic(services, datetime(2026, 12, 2, 9, 0, tzinfo=TOKYO))
    worker.run_until_idle()
    [hour_before] = reminder_texts(fake_line, chat.user_id, "まもなくご相談の時間です")
    for item in CHECKLIST:
        assert item in hour_before, item
    assert "開始時刻から10分を過ぎても" in hour_before


def test_the_reminder_without_a_link_yet_still_gives_the_checklist_and_the_rule(chat, services, worker, fake_line):
    play(chat, BOOKED)  # the meeting job is not run: no link yet
    scheduler.run_periodic(services, datetime(2026, 12, 2, 9, 0, tzinfo=TOKYO))
    worker.run_until_idle()
    [hour_before] = reminder_texts(fake_line, chat.user_id, "まもなくご相談の時間です")
    assert "参加用リンクは準備ができしだい" in hour_before or "Teamsで参加する" in hour_before
    assert "通信料" in hour_before and "10分を過ぎても" in hour_before


def test_the_minutes_of_the_rule_come_from_the_settings(services, clock, fake_line):
    config = services.config.but(desk=replace(services.config.desk, late_minutes=15))
    other = Services.create(config, clock=clock)
    try:
        load_demo_data(other.db)
        chat = Chat(other, "U" + "b" * 32)
        play(chat, BOOKED[:-1] + [(BOOKED[-1][0], says("開始時刻から15分を過ぎても"))])
        assert config.no_show_after_minutes == 15
        scheduler.run_periodic(other, datetime(2026, 12, 2, 9, 0, tzinfo=TOKYO))
        Worker(other).run_until_idle()
        [hour_before] = reminder_texts(fake_line, chat.user_id, "まもなくご相談の時間です")
        assert "15分を過ぎても" in hour_before and "10分" not in hour_before
    finally:
        other.close()

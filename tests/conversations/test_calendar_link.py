"""予定に追加: the confirmation carries a link to an .ics file behind a signed, expiring URL that
holds only an opaque token; the file has the time, the desk's name and the join link, nothing else."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import Booking
from tests.support.chat import play, tap
from tests.support.scripts import BOOKED

TOKYO = ZoneInfo("Asia/Tokyo")
PERSONAL = ("山田", "ヤマダ", "Taro@example.jp", "09012345678", "転職", "キャリア")


def calendar_path(text: str) -> str:
    [url] = re.findall(r"https?://\S+/calendar/\S+\.ics", text)
    return url.split("://", 1)[1].split("/", 1)[1]


def booking(services) -> Booking:
    with services.db.transaction() as session:
        return session.scalar(select(Booking))


def test_the_confirmation_links_an_ics_with_the_time_the_desks_name_and_the_join_link_only(
        chat, services, worker, client):
    play(chat, BOOKED)
    assert "予定に追加" in chat.last.text
    path = "/" + calendar_path(chat.last.text)
    b = booking(services)
    key, signature = path.removeprefix("/calendar/").removesuffix(".ics").split(".")
    assert len(key) >= 24 and len(signature) >= 20  # a random key and its signature: nothing else
    assert b.reference not in path and b.reference.replace("-", "") not in path
    assert not any(p in path for p in PERSONAL)
    worker.run_until_idle()  # the meeting is made: its join link goes into the file
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    unfolded = body.replace("\r\n ", "")
    assert "DTSTART:20261202T010000Z" in unfolded and "DTEND:20261202T013000Z" in unfolded
    assert "SUMMARY:みらいキャリアポート" in unfolded
    assert booking(services).join_url in unfolded
    assert not any(p in body for p in ("山田", "ヤマダ", "Taro@example.jp", "09012345678", "転職を考えて"))
    assert b.reference not in body and "キャリア・転職" not in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_an_altered_or_guessed_token_is_refused(chat, client):
    play(chat, BOOKED)
    path = "/" + calendar_path(chat.last.text)
    key, signature = path.removeprefix("/calendar/").removesuffix(".ics").split(".")
    altered = signature[:-1] + ("B" if signature.endswith("A") else "A")
    assert client.get(f"/calendar/{key}.{altered}.ics").status_code == 404
    assert client.get(f"/calendar/{key}.ics").status_code == 404
    assert client.get(f"/calendar/{'A' * len(key)}.{signature}.ics").status_code == 404


def test_the_link_expires_when_the_session_ends_or_the_booking_is_cancelled(chat, client, services):
    play(chat, BOOKED)
    path = "/" + calendar_path(chat.last.text)
    chat.now = datetime(2026, 12, 2, 10, 29, tzinfo=TOKYO)
    assert client.get(path).status_code == 200
    chat.now = datetime(2026, 12, 2, 10, 30, tzinfo=TOKYO)
    assert client.get(path).status_code == 404


def test_a_cancelled_booking_has_no_calendar_file(chat, client):
    play(chat, BOOKED)
    path = "/" + calendar_path(chat.last.text)
    play(chat, [(tap("予約の確認・キャンセル"),), (tap("キャンセルする"),), (tap("はい"),)])
    assert client.get(path).status_code == 404


def test_a_moved_booking_s_link_gives_the_new_time(chat, client):
    play(chat, BOOKED)
    path = "/" + calendar_path(chat.last.text)
    play(chat, [(tap("予約の確認・キャンセル"),), (tap("日時を変更"),), (tap("12/3(木)"),), (tap("14:00"),), (tap("はい"),)])
    assert "DTSTART:20261203T050000Z" in client.get(path).get_data(as_text=True)

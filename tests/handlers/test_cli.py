"""The operator's commands until the console exists: demo data, pause, cancel for the desk, attendance."""

from __future__ import annotations

from sqlalchemy import func, select

from bot import create_app
from models import Booking, Counsellor, LocalMeeting
from tests.support.chat import play, says, tap
from tests.support.scripts import DETAILS, UP_TO_NAME


def test_demo_data_makes_counsellors_for_every_topic_and_running_it_again_changes_nothing(config, clock, services):
    app = create_app(config.but(simulator=True), clock=clock)  # demo data is for the simulator only
    runner = app.test_cli_runner()
    assert "13 added" in runner.invoke(args=["demo-data"]).output  # 3 counsellors, 3 simulated users, 3 logins, 4 canned replies
    assert "0 added" in runner.invoke(args=["demo-data"]).output
    with services.db.transaction() as session:
        counsellors = session.scalars(select(Counsellor)).all()
        assert len(counsellors) == 3
        covered = {topic for c in counsellors for topic in c.topics}
        assert covered == set(services.desk_settings.topics)
        assert all(c.weekly.keys() == {"0", "1", "2", "3", "4"} for c in counsellors)
    app.extensions["services"].close()


def test_maintenance_mode_pauses_every_answer_until_switched_off(app, chat):
    runner = app.test_cli_runner()
    runner.invoke(args=["maintenance", "on", "--notice", "点検中です。", "--until", "15時"])
    assert "点検中です。" in chat.follow().text and "15時" in chat.last.text
    runner.invoke(args=["maintenance", "off"])
    assert "友だち追加ありがとうございます" in chat.follow().text


def test_the_desk_cancels_a_booking_the_user_is_told_and_the_meeting_withdrawn(app, chat, worker, services, fake_line):
    play(chat, UP_TO_NAME + DETAILS + [(tap("確定"), says("ご予約が確定しました"))])
    worker.run_until_idle()
    with services.db.transaction() as session:
        reference = session.scalar(select(Booking.reference))
    result = app.test_cli_runner().invoke(args=["cancel-booking", reference, "--reason", "相談員の急病"])
    assert result.exit_code == 0, result.output
    worker.run_until_idle()
    with services.db.transaction() as session:
        booking = session.scalar(select(Booking))
        assert (booking.status, booking.cancelled_by, booking.cancel_reason) == ("cancelled", "operator", "相談員の急病")
        assert session.scalar(select(func.count()).select_from(LocalMeeting).where(LocalMeeting.cancelled_at.is_not(None))) == 1
    assert any("窓口の都合によりキャンセル" in d.message.get("text", "") for d in fake_line.store.messages_to(chat.user_id))


def test_attendance_before_the_session_is_refused_with_a_reason(app, chat):
    play(chat, UP_TO_NAME + DETAILS + [(tap("確定"),)])
    with chat.services.db.transaction() as session:
        reference = session.scalar(select(Booking.reference))
    result = app.test_cli_runner().invoke(args=["attendance", reference, "no-show"])
    assert result.exit_code != 0 and "10 minutes after the start" in result.output

"""The retention purge (bot/ops/retention.py): what is past its period is blanked or deleted, once a day
however many workers run the schedule, in small transactions, and recorded in the audit log with
its counts. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.ops import retention
from bot.queue import scheduler
from handlers import figures as statistics
from bot.config import Config
from bot.demo import load_demo_data
from bot.simulator import events as line_events
from models import (
    AuditEntry,
    Booking,
    ConversationState,
    Counsellor,
    DeskSetting,
    Job,
    LineUser,
    MessageLog,
    OutboundMessage,
    WebhookEvent,
)
from tests.conftest import make_jobs_due
from tests.support.chat import play, says, send
from tests.support.console import create_operator, signed_in_client
from tests.support.scripts import BOOKED, UP_TO_NAME

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=TOKYO)
OLD = NOW - timedelta(days=366)
YOUNG = NOW - timedelta(days=10)
SECRET = "借金のことで誰にも言えない悩みがあります"
USER = "U" + "7" * 32


# -- rows as the service writes them --------------------------------------------------------------

def add_user(session, key: str, **values) -> LineUser:
    user = LineUser(line_user_id=f"Uretention{key}".ljust(33, "0"), created_at=OLD - timedelta(days=30), **values)
    session.add(user)
    session.flush()
    return user


def add_event(session, key: str, at: datetime) -> WebhookEvent:
    event = WebhookEvent(event_key=key, event_type="message", source_key="Uretention", received_at=at,
                         processed_at=at, body={"message": {"type": "text", "text": SECRET}})
    session.add(event)
    session.flush()
    return event


def add_log(session, user: LineUser, at: datetime, *, kind: str = "text", event: WebhookEvent | None = None,
            outbound: OutboundMessage | None = None, direction: str = "in") -> MessageLog:
    row = MessageLog(user_id=user.id, direction=direction, created_at=at, kind=kind, text=SECRET,
                     payload={"text": SECRET}, flow="booking", step="consultation",
                     event_id=event.id if event else None, outbound_id=outbound.id if outbound else None)
    session.add(row)
    session.flush()
    return row


def add_outbound(session, user: LineUser, at: datetime, key: str, status: str = "sent") -> OutboundMessage:
    row = OutboundMessage(user_id=user.id, messages=[{"type": "text", "text": SECRET}], retry_key=key,
                          status=status, created_at=at)
    session.add(row)
    session.flush()
    return row


def add_job(session, finished: datetime | None, status: str = "done") -> Job:
    job = Job(kind="event", payload={"event_id": 1}, status=status, created_at=(finished or NOW) - timedelta(seconds=1),
              finished_at=finished)
    session.add(job)
    return job


def add_booking(session, user: LineUser, starts: datetime, status: str, reference: str) -> Booking:
    counsellor = session.scalars(select(Counsellor).order_by(Counsellor.id)).first()
    booking = Booking(reference=reference, user_id=user.id, counsellor_id=counsellor.id, topic="キャリア・転職",
                      starts_at=starts, ends_at=starts + timedelta(minutes=30), status=status,
                      name="山田 花子", furigana="ヤマダ ハナコ", age=25, email="hanako.private@example.jp",
                      phone="09011112222", consultation=SECRET)
    session.add(booking)
    session.flush()
    return booking


def count(db, model, *conditions) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*conditions))


def purge_audits(db) -> list[dict]:
    with db.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == retention.ACTION)
                               .order_by(AuditEntry.id)).all()
        assert all(r.operator_id is None and r.operator_email == "system" for r in rows)
        return [json.loads(r.detail) for r in rows]


def small_batches(services, size: int) -> None:
    services.config = services.config.but(retention_batch_size=size)


# -- what is purged -------------------------------------------------------------------------------

def test_conversation_logs_past_the_period_lose_their_text_but_still_count_in_the_statistics(services):
    with services.db.transaction() as session:
        user = add_user(session, "a")
        old = add_log(session, user, OLD, kind="follow").id
        young = add_log(session, user, YOUNG).id
    week = statistics.Period.covering(OLD.date(), OLD.date())

    assert retention.run(services, NOW) is not None

    with services.db.transaction() as session:
        old_row, young_row = session.get(MessageLog, old), session.get(MessageLog, young)
        assert (old_row.text, old_row.payload) == (None, {})
        assert (old_row.kind, old_row.flow, old_row.step, old_row.created_at) == ("follow", "booking", "consultation",
                                                                                   OLD)
        assert (young_row.text, young_row.payload) == (SECRET, {"text": SECRET})
        # The follow a year ago is still a new friend in that week's figures.
        assert statistics.compute(session, week, ("キャリア・転職",)).total.new_friends == 1


def test_webhook_events_sent_messages_and_finished_jobs_past_the_period_are_deleted(services):
    with services.db.transaction() as session:
        user = add_user(session, "a")
        old_event, young_event = add_event(session, "old", OLD), add_event(session, "young", YOUNG)
        old_sent = add_outbound(session, user, OLD, "k-old")
        add_log(session, user, OLD, event=old_event)
        add_log(session, user, OLD, direction="out", outbound=old_sent)
        add_log(session, user, YOUNG, event=young_event)
        owed = add_outbound(session, user, OLD, "k-owed", status="pending").id
        young_sent = add_outbound(session, user, YOUNG, "k-young").id
        add_job(session, OLD), add_job(session, OLD, "dead"), add_job(session, YOUNG), add_job(session, None, "pending")

    report = retention.run(services, NOW)

    assert [count(services.db, WebhookEvent, WebhookEvent.event_key == k) for k in ("old", "young")] == [0, 1]
    with services.db.transaction() as session:
        assert sorted(session.scalars(select(OutboundMessage.id))) == sorted([owed, young_sent])
        assert sorted(session.scalars(select(Job.status))) == ["done", "pending"]
        assert session.scalar(select(func.count()).select_from(MessageLog)) == 3  # rows kept, blanked
    assert report.counts["webhook_events_deleted"] == 1 and report.counts["outbound_messages_deleted"] == 1
    assert report.counts["jobs_deleted"] == 2 and report.counts["messages_blanked"] == 2


def test_an_event_a_young_log_row_points_at_waits_until_that_row_is_old_too(services):
    cutoff = NOW - timedelta(days=365)
    with services.db.transaction() as session:
        user = add_user(session, "a")
        event = add_event(session, "edge", cutoff - timedelta(seconds=2))
        add_log(session, user, cutoff + timedelta(seconds=1), event=event)
    retention.run(services, NOW)
    assert count(services.db, WebhookEvent) == 1
    retention.run(services, NOW + timedelta(days=1))
    assert count(services.db, WebhookEvent) == 0


def test_webhook_bodies_are_blanked_after_thirty_days_and_a_redelivery_is_still_not_answered_twice(
        app, line, worker, services):
    event = line.text(USER, "こんにちは")
    assert line.post(event).status_code == 200
    worker.run_until_idle()
    answers = len(line.received(USER))
    assert answers >= 1

    retention.run(services, services.clock() + timedelta(days=29))
    with services.db.transaction() as session:
        assert session.scalar(select(WebhookEvent.body))["message"]["text"] == "こんにちは"
    retention.run(services, services.clock() + timedelta(days=31))
    with services.db.transaction() as session:
        assert session.scalar(select(WebhookEvent.body)) == {}
        assert session.scalar(select(WebhookEvent.event_key)) == event["webhookEventId"]

    jobs = count(services.db, Job)
    redelivered = {**event, "deliveryContext": {"isRedelivery": True}}
    assert line.post(redelivered).status_code == 200
    worker.run_until_idle()
    assert count(services.db, WebhookEvent) == 1 and count(services.db, Job) == jobs
    assert len(line.received(USER)) == answers


def test_a_whole_conversation_a_year_old_is_purged_and_the_user_who_blocked_is_anonymised(
        app, line, worker, services):
    line.post(line.follow(USER))
    line.post(line.text(USER, SECRET))
    line.post(line_events.unfollow(USER))
    worker.run_until_idle()
    make_jobs_due(services.db)  # a reply the fake LINE was too slow to answer on a loaded machine
    worker.run_until_idle()
    assert count(services.db, MessageLog, MessageLog.text == SECRET) == 1

    report = retention.run(services, services.clock() + timedelta(days=366))

    assert count(services.db, WebhookEvent) == count(services.db, OutboundMessage) == count(services.db, Job) == 0
    assert count(services.db, MessageLog) > 0 and count(services.db, MessageLog, MessageLog.text.is_not(None)) == 0
    with services.db.transaction() as session:
        assert session.scalar(select(LineUser.erased_at)) is not None
    assert report.counts["users_anonymised"] == 1


def test_a_user_blocked_longer_than_the_period_is_anonymised_but_not_a_recent_one_nor_one_with_an_upcoming_booking(
        services):
    load_demo_data(services.db)
    with services.db.transaction() as session:
        long_gone = add_user(session, "gone", blocked_at=OLD)
        recent = add_user(session, "recent", blocked_at=YOUNG)
        booked = add_user(session, "booked", blocked_at=OLD)
        for user, ref in ((long_gone, "GONE0001"), (recent, "RECENT01"), (booked, "BOOKED01")):
            add_booking(session, user, YOUNG - timedelta(days=20), "attended", ref)
        add_booking(session, booked, NOW + timedelta(days=2), "confirmed", "BOOKED02")
        add_log(session, long_gone, YOUNG - timedelta(days=300))

    report = retention.run(services, NOW)

    with services.db.transaction() as session:
        names = {b.reference: b.name for b in session.scalars(select(Booking))}
        assert names == {"GONE0001": None, "RECENT01": "山田 花子", "BOOKED01": "山田 花子", "BOOKED02": "山田 花子"}
        erased = {u.id: u.erased_at for u in session.scalars(select(LineUser))}
        assert erased == {long_gone.id: NOW, recent.id: None, booked.id: None}
        # Its rows stay for the statistics: the booking, the log row, without what named the person.
        gone_log = session.scalar(select(MessageLog).where(MessageLog.user_id == long_gone.id))
        assert gone_log.text is None and gone_log.kind == "text"
    assert (report.counts["users_anonymised"], report.counts["users_skipped"]) == (1, 1)

    # Erased once: the next day's run does not count the same user again.
    assert retention.run(services, NOW + timedelta(days=1)).counts["users_anonymised"] == 0


# -- once a day, many workers, batches ------------------------------------------------------------

def test_two_runs_on_the_same_day_do_the_work_once(services):
    with services.db.transaction() as session:
        user = add_user(session, "a")
        add_log(session, user, OLD)
        # A year old by the evening, not yet at 03:00.
        add_log(session, user, NOW - timedelta(days=365) + timedelta(hours=10))
    assert retention.run(services, NOW).counts["messages_blanked"] == 1

    assert retention.run(services, NOW + timedelta(hours=20)) is None  # still 23 November in Tokyo
    assert count(services.db, MessageLog, MessageLog.text.is_not(None)) == 1
    assert len(purge_audits(services.db)) == 1

    assert retention.run(services, NOW + timedelta(hours=21)).counts["messages_blanked"] == 1  # the 24th
    assert count(services.db, MessageLog, MessageLog.text.is_not(None)) == 0
    assert len(purge_audits(services.db)) == 2


def test_workers_running_the_schedule_at_once_purge_once(services):
    with services.db.transaction() as session:
        user = add_user(session, "a")
        for i in range(5):
            add_log(session, user, OLD + timedelta(minutes=i))
    start = threading.Barrier(3)
    results: list[dict] = []

    def tick():
        start.wait()
        results.append(scheduler.run_periodic(services, NOW))

    threads = [threading.Thread(target=tick) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 3
    assert sorted(r.get("retention_purged", 0) for r in results) == [0, 0, 5]
    [audited] = purge_audits(services.db)
    assert audited["counts"]["messages_blanked"] == 5


def test_small_batches_still_purge_everything_and_the_counts_add_up(services):
    small_batches(services, 3)
    with services.db.transaction() as session:
        user = add_user(session, "a")
        for i in range(10):
            event = add_event(session, f"old-{i}", OLD + timedelta(minutes=i))
            add_log(session, user, OLD + timedelta(minutes=i), event=event)
            add_outbound(session, user, OLD + timedelta(minutes=i), f"k-{i}")
            add_job(session, OLD + timedelta(minutes=i))
        for i in range(7):
            add_event(session, f"month-{i}", NOW - timedelta(days=40, minutes=i))
        for i in range(4):
            add_user(session, f"b{i}", blocked_at=OLD)

    report = retention.run(services, NOW)

    assert count(services.db, MessageLog, MessageLog.text.is_not(None)) == 0
    assert count(services.db, WebhookEvent) == 7 and count(services.db, OutboundMessage) == count(services.db, Job) == 0
    with services.db.transaction() as session:
        assert list(session.scalars(select(WebhookEvent.body).distinct())) == [{}]
        assert session.scalar(select(func.count()).where(LineUser.erased_at.is_not(None))) == 4
    assert report.counts == {"webhook_bodies_blanked": 17, "messages_blanked": 10, "bookings_blanked": 0,
                             "states_deleted": 0, "webhook_events_deleted": 10,
                             "outbound_messages_deleted": 10, "jobs_deleted": 10, "users_anonymised": 4,
                             "users_skipped": 0}
    [audited] = purge_audits(services.db)
    assert audited["counts"] == report.counts


def test_each_run_is_audited_with_its_counts_and_cut_off_dates(services):
    with services.db.transaction() as session:
        add_log(session, add_user(session, "a"), OLD)
    retention.run(services, NOW)
    [audited] = purge_audits(services.db)
    assert audited["run_on"] == "2026-11-23" and audited["trigger"] == "worker"
    assert audited["cutoffs"] == {"records": "2025-11-23T03:00:00+09:00", "bodies": "2026-10-24T03:00:00+09:00"}
    assert audited["counts"]["messages_blanked"] == 1 and "incomplete" not in audited
    assert SECRET not in json.dumps(audited, ensure_ascii=False)


def test_a_run_whose_process_died_is_audited_as_incomplete_and_the_next_day_finishes_the_work(services):
    with services.db.transaction() as session:
        add_log(session, add_user(session, "a"), OLD)
        session.add(DeskSetting(key=retention.SETTING, updated_at=services.clock() - timedelta(hours=1), value={
            "run_on": "2026-11-22", "started_at": "2026-11-22T00:00:05+09:00", "finished_at": None,
            "trigger": "worker", "counts": {"jobs_deleted": 5000}}))

    retention.run(services, NOW)

    died, finished = purge_audits(services.db)
    assert died["incomplete"] is True and died["counts"] == {"jobs_deleted": 5000}
    assert finished["counts"]["messages_blanked"] == 1 and "incomplete" not in finished


def test_a_run_still_making_progress_is_left_alone(app, services):
    with services.db.transaction() as session:
        session.add(DeskSetting(key=retention.SETTING, updated_at=services.clock(), value={
            "run_on": "2026-11-22", "started_at": "2026-11-22T00:00:05+09:00", "finished_at": None}))
    assert retention.run(services, NOW) is None
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code != 0 and "a purge is running" in result.output
    assert purge_audits(services.db) == []


# -- the command line and the console -------------------------------------------------------------

def seed_a_year_ago(db) -> None:
    """Rows older than the period as of the service's clock (the command line reads it)."""
    real_old = db.clock() - timedelta(days=400)
    with db.transaction() as session:
        user = add_user(session, "cli")
        event = add_event(session, "cli-old", real_old)
        add_log(session, user, real_old, event=event)
        add_job(session, real_old)


def test_the_command_line_dry_run_counts_and_changes_nothing(app, services):
    seed_a_year_ago(services.db)
    result = app.test_cli_runner().invoke(args=["retention", "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would purge" in result.output
    counts = dict(line.split() for line in result.output.splitlines()[1:])
    assert counts == {"webhook_bodies_blanked": "1", "messages_blanked": "1", "bookings_blanked": "0",
                      "states_deleted": "0", "webhook_events_deleted": "1",
                      "outbound_messages_deleted": "0", "jobs_deleted": "1", "users_anonymised": "0",
                      "users_skipped": "0"}
    assert count(services.db, MessageLog, MessageLog.text == SECRET) == 1
    assert count(services.db, WebhookEvent) == count(services.db, Job) == 1
    assert count(services.db, DeskSetting, DeskSetting.key == retention.SETTING) == 0
    assert purge_audits(services.db) == []

    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("purged records before")
    assert dict(line.split() for line in result.output.splitlines()[1:])["jobs_deleted"] == "1"
    assert count(services.db, WebhookEvent) == count(services.db, Job) == 0
    assert [a["trigger"] for a in purge_audits(services.db)] == ["cli"]
    # The command runs even when today's purge is done (the audit log shows each run).
    assert app.test_cli_runner().invoke(args=["retention", "run"]).exit_code == 0
    assert len(purge_audits(services.db)) == 2


def test_the_settings_page_shows_the_periods_and_the_last_runs_counts(app, services):
    create_operator(app)
    admin = signed_in_client(app)
    page = admin.get("/console/settings").get_data(as_text=True)
    assert "記録の保存期間" in page and "365日" in page and "30日" in page and "まだ実行されていません" in page

    seed_a_year_ago(services.db)
    retention.run(services)
    page = admin.get("/console/settings").get_data(as_text=True)
    assert "に完了" in page
    assert "<th scope=\"row\">会話の記録の本文を消去</th><td>1件</td>" in page
    assert "<th scope=\"row\">完了した処理を削除</th><td>1件</td>" in page
    assert "保存期間を過ぎた記録の削除" in admin.get("/console/audit").get_data(as_text=True)


# -- settings -------------------------------------------------------------------------------------

def test_the_periods_come_from_the_environment_and_nonsense_is_refused(tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path)}
    default = Config.from_env(base)
    assert (default.retention_days, default.webhook_body_retention_days, default.retention_batch_size) == \
        (365, 30, 5000)
    config = Config.from_env({**base, "RETENTION_DAYS": "730", "WEBHOOK_BODY_RETENTION_DAYS": "7",
                              "RETENTION_BATCH_SIZE": "1000"})
    assert (config.retention_days, config.webhook_body_retention_days, config.retention_batch_size) == (730, 7, 1000)
    for wrong in ({"RETENTION_DAYS": "20"}, {"WEBHOOK_BODY_RETENTION_DAYS": "0"}, {"RETENTION_BATCH_SIZE": "0"}):
        with pytest.raises(RuntimeError, match="RETENTION"):
            Config.from_env({**base, **wrong})


def test_an_abandoned_bookings_answers_are_deleted_a_day_after_its_flow_timed_out(chat, services):
    play(chat, UP_TO_NAME + [(send("山田 太郎"), says("フリガナ"))])  # then the user walks away
    timeout = timedelta(minutes=services.desk_settings.flow_timeout_minutes)
    with services.db.transaction() as session:
        assert "山田 太郎" in json.dumps(session.scalar(select(ConversationState.answers)), ensure_ascii=False)
    retention.run(services, chat.now + timeout + retention.STATE_MARGIN - timedelta(minutes=1), force=True)
    assert count(services.db, ConversationState) == 1
    report = retention.run(services, chat.now + timeout + retention.STATE_MARGIN + timedelta(minutes=1), force=True)
    assert count(services.db, ConversationState) == 0 and report.counts["states_deleted"] == 1


def test_a_past_bookings_personal_fields_are_blanked_after_the_period_and_it_still_counts(chat, services):
    play(chat, BOOKED)
    with services.db.transaction() as session:
        booking = session.scalar(select(Booking))
    kept_until = booking.ends_at + timedelta(days=services.config.retention_days)
    retention.run(services, kept_until - timedelta(days=1), force=True)
    with services.db.transaction() as session:
        assert session.get(Booking, booking.id).name == "山田 太郎"
    retention.run(services, kept_until + timedelta(days=1), force=True)
    with services.db.transaction() as session:
        blanked = session.get(Booking, booking.id)
        assert (blanked.name, blanked.furigana, blanked.email, blanked.phone, blanked.consultation) == (None,) * 5
        assert (blanked.topic, blanked.status) == ("キャリア・転職", "confirmed")

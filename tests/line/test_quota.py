"""LINE's monthly message quota: the console shows what is left and what the desk's pushes went on,
operators are alerted at 80%, 95% and when it runs out, a push refused for the limit is final and its
user is listed for a call, and a booking's join link rides in the confirmation's free reply."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import REGISTRY
from sqlalchemy import select

from bot.queue import scheduler
from bot.simulator.platform import MessagingApi
from bot.simulator.store import DatabaseStore
from handlers import quota
from handlers.alerts import QUOTA_80, QUOTA_95, QUOTA_EXHAUSTED
from models import Booking, Job, OperatorAlert, OutboundMessage
from tests.support.chat import play
from tests.support.console import audit_rows, create_operator, signed_in_client, text_of
from tests.support.fake_line import CONSUMPTION, PUSH, QUOTA, REPLY
from tests.support.scripts import BOOKED, DETAILS, UP_TO_NAME, join_buttons

TOKYO = ZoneInfo("Asia/Tokyo")
USER = "U4444444444444444444444444444444d"


def alerts(services, kind: str | None = None) -> list[OperatorAlert]:
    with services.db.transaction() as session:
        query = select(OperatorAlert).order_by(OperatorAlert.id)
        return list(session.scalars(query.where(OperatorAlert.kind == kind) if kind else query))


def outbound(services) -> list[OutboundMessage]:
    with services.db.transaction() as session:
        return list(session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def plain(response) -> str:
    """A page's text without its tags and spaces."""
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", text_of(response)))


def pushed_answer(line, worker, fake_line, text: str = "こんにちは") -> None:
    """A message answered after its reply token expired: the answer goes by push."""
    line.post(line.text(USER, text))
    fake_line.store.expire_reply_tokens()
    worker.run_until_idle()


# -- alerts at 80%, 95% and 100%, once each a month ------------------------------------------------

def test_operators_are_alerted_once_when_the_month_passes_80_percent_and_once_at_95(services, fake_line):
    fake_line.set_quota(200, 159)
    assert quota.refresh(services).percent == 79
    assert alerts(services) == []
    fake_line.set_quota(200, 160)
    assert quota.refresh(services, force=True).percent == 80
    fake_line.set_quota(200, 170)
    quota.refresh(services, force=True)
    assert [a.kind for a in alerts(services)] == [QUOTA_80]
    fake_line.set_quota(200, 190)
    quota.refresh(services, force=True)
    fake_line.set_quota(200, 199)
    quota.refresh(services, force=True)
    assert [a.kind for a in alerts(services)] == [QUOTA_80, QUOTA_95]
    assert "190" in alerts(services, QUOTA_95)[0].message


def test_a_month_that_jumps_past_95_percent_raises_one_alert_not_two(services, fake_line):
    fake_line.set_quota(200, 196)
    quota.refresh(services)
    assert [a.kind for a in alerts(services)] == [QUOTA_95]


def test_a_new_month_alerts_again(services, fake_line, clock):
    fake_line.set_quota(100, 85)
    quota.refresh(services)
    clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=TOKYO))
    quota.refresh(services)
    assert [a.kind for a in alerts(services)] == [QUOTA_80, QUOTA_80]


def test_line_is_asked_for_the_quota_at_most_once_per_refresh_period(services, fake_line, clock):
    fake_line.set_quota(200, 10)
    for _ in range(3):
        quota.refresh(services)
    assert len(fake_line.calls_to(QUOTA)) == 1 and len(fake_line.calls_to(CONSUMPTION)) == 1
    clock.set(clock() + timedelta(minutes=services.config.line_quota_refresh_minutes))
    fake_line.set_quota(200, 12)
    assert quota.refresh(services).used == 12
    assert len(fake_line.calls_to(QUOTA)) == 2


def test_the_workers_periodic_work_keeps_the_quota_fresh_without_anyone_opening_the_console(services, fake_line):
    fake_line.set_quota(200, 165)
    scheduler.run_periodic(services)
    assert [a.kind for a in alerts(services)] == [QUOTA_80]


def test_an_account_without_a_target_limit_shows_its_usage_and_never_alerts(services, fake_line):
    fake_line.set_quota(None, 5000)
    view = quota.refresh(services)
    assert (view.limit, view.used, view.percent) == (None, 5000, None)
    assert alerts(services) == []


# -- running out ----------------------------------------------------------------------------------

def test_a_push_refused_for_the_monthly_limit_is_final_and_marked_so(line, worker, fake_line, services):
    fake_line.set_quota(10, 10)
    pushed_answer(line, worker, fake_line)
    [push] = fake_line.calls_to(PUSH)
    assert push.status == 429
    [sent] = outbound(services)
    assert (sent.status, sent.method, sent.failure) == ("failed", "push", "monthly_limit")
    with services.db.transaction() as session:
        assert session.scalar(select(Job).where(Job.kind == "line_deliver")).status == "done"
    assert fake_line.store.messages_to(USER) == []


def test_running_out_raises_one_alert_however_many_pushes_are_refused(line, worker, fake_line, services):
    fake_line.set_quota(10, 10)
    pushed_answer(line, worker, fake_line, "一通目")
    pushed_answer(line, worker, fake_line, "二通目")
    assert len(fake_line.calls_to(PUSH)) == 2
    assert [a.kind for a in alerts(services)] == [QUOTA_EXHAUSTED]
    with services.db.transaction() as session:
        assert quota.read(session, services.clock()).exhausted


def test_a_429_for_the_rate_limit_is_still_retried(line, worker, fake_line, services):
    line.post(line.text(USER, "hi"))
    fake_line.store.expire_reply_tokens()
    fake_line.fail_next(PUSH, 429)  # "injected 429": a rate limit, not the monthly limit
    worker.run_until_idle()
    [row] = outbound(services)
    assert row.status == "pending" and row.failure is None


def test_admins_see_who_a_push_did_not_reach_with_links_to_call_them_and_the_view_is_audited(
        app, line, worker, fake_line, services):
    fake_line.set_quota(3, 3)
    pushed_answer(line, worker, fake_line)
    create_operator(app)
    client = signed_in_client(app)
    page = plain(client.get("/console/quota"))
    [row] = outbound(services)
    assert f"/console/users/{row.user_id}" in client.get("/console/quota").get_data(as_text=True)
    assert "自動応答" in page and "上限に達しました" in page
    assert audit_rows(app, "view_quota_unreached")


def test_the_list_of_unreached_users_is_for_admins_only(app, fake_line):
    create_operator(app, "viewer@desk.example.jp", "viewer")
    assert signed_in_client(app, "viewer@desk.example.jp").get("/console/quota").status_code == 403


# -- what the console shows ---------------------------------------------------------------------------

def test_home_and_settings_show_the_months_quota_and_the_desks_pushes_by_kind(app, line, worker, fake_line, services):
    fake_line.set_quota(200, 42)
    pushed_answer(line, worker, fake_line)
    create_operator(app)
    client = signed_in_client(app)
    for page in (plain(client.get("/console/")), plain(client.get("/console/settings"))):
        assert "今月の送信数43通／上限200通" in page  # LINE counted our push
        assert "プッシュ：自動応答（返信期限切れ）1通" in page
        assert "プッシュ：リマインダー0通" in page


def test_pushes_are_counted_by_the_tokyo_month_they_were_sent_in(services, line, worker, fake_line, clock):
    pushed_answer(line, worker, fake_line)
    with services.db.transaction() as session:
        assert quota.sent_this_month(session, clock())["push"]["answer"] == 1
        assert quota.sent_this_month(session, datetime(2027, 1, 1, 0, 0, tzinfo=TOKYO))["push"]["answer"] == 0
        assert quota.sent_this_month(session, datetime(2026, 12, 31, 23, 59, tzinfo=TOKYO))["push"]["answer"] == 1


def test_replies_and_pushes_are_counted_in_the_metrics_by_kind(line, worker, fake_line):
    def sent(method: str, kind: str) -> float:
        return REGISTRY.get_sample_value("desk_line_messages_sent_total", {"method": method, "kind": kind}) or 0.0

    replies, pushes = sent("reply", "answer"), sent("push", "answer")
    line.post(line.text(USER, "hi"))
    worker.run_until_idle()
    pushed_answer(line, worker, fake_line)
    assert (sent("reply", "answer"), sent("push", "answer")) == (replies + 1, pushes + 1)


# -- fewer pushes per booking --------------------------------------------------------------------------

def confirm_by_webhook(chat, line, worker) -> None:
    """A booking whose last step, 確定, comes through LINE's webhook with a fresh reply token."""
    play(chat, UP_TO_NAME + DETAILS)
    line.post(line.text(chat.user_id, "確定"))
    worker.run_until_idle()


def test_the_join_link_comes_in_the_confirmations_reply_so_the_booking_costs_no_push(chat, line, worker, fake_line,
                                                                                     services):
    confirm_by_webhook(chat, line, worker)
    received = fake_line.store.messages_to(chat.user_id)
    assert {d.via for d in received} == {"reply"} and fake_line.calls_to(PUSH) == []
    assert "ご予約が確定しました" in line.received(chat.user_id)[0]
    with services.db.transaction() as session:
        booking = session.scalar(select(Booking))
        assert join_buttons([d.message for d in received]) == [booking.join_url]
        assert booking.join_link_sent_at is not None


def test_the_join_link_is_pushed_once_when_the_reply_token_is_no_longer_fresh(chat, line, worker, fake_line,
                                                                              services):
    services.config = services.config.but(reply_token_ttl_seconds=0)
    confirm_by_webhook(chat, line, worker)
    messages = [d.message for d in fake_line.store.messages_to(chat.user_id)]
    assert len(join_buttons(messages)) == 1


def test_reminders_follow_the_reminders_setting(chat, worker, services, fake_line):
    services.config = services.config.but(reminders=("day_before",))
    play(chat, BOOKED)
    worker.run_until_idle()
    for moment in (datetime(2026, 12, 1, 18, 0, tzinfo=TOKYO), datetime(2026, 12, 2, 9, 0, tzinfo=TOKYO)):
        scheduler.run_periodic(services, moment)
        worker.run_until_idle()
    texts = [d.message.get("altText", "") for d in fake_line.store.messages_to(chat.user_id)]
    assert [t for t in texts if t.startswith(("明日は", "まもなく"))] == [t for t in texts if t.startswith("明日は")]
    assert len([t for t in texts if t.startswith("明日は")]) == 1


# -- the simulator's own quota -------------------------------------------------------------------------

def test_the_simulator_keeps_a_monthly_quota_of_its_own_and_refuses_pushes_past_it(services):
    api = MessagingApi(DatabaseStore(services.db, 2), "token")
    auth = {"Authorization": "Bearer token"}

    def push(n: int):
        return api.handle("POST", PUSH, {**auth, "X-Line-Retry-Key": f"00000000-0000-4000-8000-00000000000{n}"},
                          b'{"to": "U1", "messages": [{"type": "text", "text": "x"}]}')

    assert [push(1).status, push(2).status] == [200, 200]
    refused = push(3)
    assert (refused.status, refused.body["message"]) == (429, "You have reached your monthly limit.")
    assert api.handle("GET", QUOTA, auth, b"").body == {"type": "limited", "value": 2}
    assert api.handle("GET", CONSUMPTION, auth, b"").body == {"totalUsage": 2}
    assert api.handle("POST", REPLY, auth, b'{"replyToken": "x", "messages": []}').status == 400  # replies: no quota

"""The fault suite's checks at the end of the run: once the queue has drained, from the database,
the fakes' records and the service's logs."""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text

from models import (
    Booking,
    Chat,
    Job,
    LineUser,
    MessageLog,
    OperatorAlert,
    OutboundMessage,
    WebhookEvent,
)
from models.chat import OPEN
from models.database import Database
from tests.chaos.chats import CHAT_LINES, CLOSED, OPERATOR_SAYS, QUEUED
from tests.support.log_scan import leaks

if TYPE_CHECKING:
    from tests.chaos.driver import Driver
    from tests.chaos.faults import ChaoticGraph, ChaoticLine

JOIN_HEADING = "ご相談の参加用リンクをお送りします"


# -- the queue, drained --------------------------------------------------------------------------

def drain(db: Database, timeout: float, log) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        with db.transaction() as session:
            counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        if not counts.get("pending") and not counts.get("running"):
            return counts
        time.sleep(2)
    log(f"the queue did not drain within {timeout:.0f} s: {counts}")
    return counts


# -- the checks ----------------------------------------------------------------------------------

def check(driver: Driver, line: ChaoticLine, graph: ChaoticGraph, db: Database, queue: dict[str, int]) -> list[str]:
    short: list[str] = []
    tally = driver.tally
    calls = line.calls

    def fail(what: str, items: list[Any]) -> None:
        if items:
            short.append(f"{what}: {len(items)} (e.g. {items[:5]})")

    with db.transaction() as session:
        # every event processed exactly once
        rows = session.execute(select(WebhookEvent.event_key, WebhookEvent.processed_at)).all()
        per_key = Counter(key for key, _ in rows)
        fail("events stored more than once", [k for k, n in per_key.items() if n > 1])
        fail("events acknowledged but not stored", sorted(tally.event_ids - set(per_key)))
        fail("events never processed", [k for k, at in rows if at is None])
        fail("events the service never acknowledged", tally.lost_posts)
        fail("webhook posts answered with a server error", [k for k in tally.post_retries if k.startswith("5")])
        fail("users left without an answer", tally.unanswered)

        # every bot message delivered exactly once
        outbound = session.scalars(select(OutboundMessage)).all()
        accepted_total = 0
        wrong_count, not_sent = [], []
        for message in outbound:
            accepted = len(calls.pushes.get(message.retry_key, []))
            if message.reply_token:
                accepted += len(calls.replies.get(message.reply_token, []))
            accepted_total += accepted
            if message.status != "sent":
                not_sent.append(f"#{message.id} {message.status}: {message.error}")
            if accepted != 1:
                wrong_count.append(f"#{message.id} accepted {accepted}x")
        fail("messages not delivered", not_sent)
        fail("messages not accepted by LINE exactly once", wrong_count)
        stray = sum(len(v) for v in calls.replies.values()) + sum(len(v) for v in calls.pushes.values())
        if stray != accepted_total:
            short.append(f"LINE accepted {stray} replies/pushes but the bot owed {accepted_total}")

        # bookings, Graph and join links
        bookings = session.execute(select(Booking, LineUser.line_user_id).join(LineUser)).all()
        events_by_booking: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for event in list(graph.events.values()):
            match = re.match(r"desk-booking-(\d+)-", event.get("transactionId") or "")
            if match:
                events_by_booking[int(match.group(1))].append(event)
        delivered = defaultdict(list)
        for d in list(line.store.delivered):
            delivered[d.user_id].append(json.dumps(d.message, ensure_ascii=False))
        confirmed, cancelled = [], []
        no_event, no_link, live_after_cancel = [], [], []
        by_user = defaultdict(list)
        for booking, line_user_id in bookings:
            by_user[line_user_id].append(booking)
            live = [e for e in events_by_booking[booking.id] if not e["cancelled"]]
            if booking.status == "confirmed":
                confirmed.append(booking.reference)
                if len(live) != 1 or live[0]["id"] != booking.graph_event_id:
                    no_event.append(f"{booking.reference}: {len(live)} live events, teams {booking.teams_status}")
                links = [m for m in delivered[line_user_id]
                         if JOIN_HEADING in m and booking.join_url and booking.join_url in m]
                if len(links) != 1:
                    no_link.append(f"{booking.reference}: {len(links)} join links")
            else:  # cancelled, or a hold that lapsed: no invite may stand
                if booking.status == "cancelled":
                    cancelled.append(booking.reference)
                if live:
                    live_after_cancel.append(f"{booking.reference} ({booking.status})")
        fail("confirmed bookings without exactly one Teams event", no_event)
        fail("confirmed bookings without exactly one join-link message", no_link)
        fail("cancelled or lapsed bookings whose Teams event is still live", live_after_cancel)
        withdrawn = sum(1 for b, _ in bookings if b.status == "cancelled" and events_by_booking[b.id])
        lost = [u for u in tally.confirmed_users - tally.cancelled_users
                if not any(b.status == "confirmed" for b in by_user[u])]
        fail("users told their booking is confirmed who have none", lost)
        kept = [u for u in tally.cancelled_users if any(b.status == "confirmed" for b in by_user[u])]
        fail("users told their booking is cancelled whose booking stands", kept)

        # no slot twice
        doubled = session.execute(text(
            "SELECT counsellor_id, starts_at, count(*) FROM bookings WHERE status IN ('held', 'confirmed') "
            "GROUP BY counsellor_id, starts_at HAVING count(*) > 1")).all()
        fail("counsellor slots booked twice", [tuple(r) for r in doubled])

        # no dead job without an alert
        dead = session.scalars(select(Job).where(Job.status == "dead")).all()
        alerts = [a.message for a in session.scalars(select(OperatorAlert).where(OperatorAlert.kind == "job_dead"))]
        fail("dead jobs without an operator alert",
             [f"#{j.id} {j.kind}" for j in dead if not any(f"#{j.id} (" in m for m in alerts)])
        if queue.get("pending") or queue.get("running"):
            short.append(f"jobs left undone: {queue}")

        print_summary(driver, line, graph, queue, len(rows), len(outbound), Counter(b.status for b, _ in bookings),
                      len(dead), stray)
        print(f"cancelled bookings: {len(cancelled)}, of which {withdrawn} had a Teams event (withdrawn at Graph), "
              f"the rest were cancelled before Graph made one")
        short += check_chats(driver, line, session)
    if not driver.service.workers_alive():
        short.append("a worker died on its own")
    if driver.service.kills < driver.size.kills or not driver.graph_went_down:
        short.append(f"the faults did not all happen: {driver.service.kills} of {driver.size.kills} kills, "
                     f"Graph down: {driver.graph_went_down}")
    return short


def check_chats(driver: Driver, line: ChaoticLine, session) -> list[str]:
    """Chat consultations: each operator message reached the user exactly once, no chat is left
    open, every user who asked heard they are in line (or that nobody can take a chat), and the bot
    answered nothing the user wrote inside an open chat."""
    short: list[str] = []
    desk, calls = driver.chats, line.calls
    if desk is None:
        return short
    tally = desk.tally

    def fail(what: str, items: list[Any]) -> None:
        if items:
            short.append(f"{what}: {len(items)} (e.g. {items[:5]})")

    texts = defaultdict(list)  # user -> the text of every message the fake LINE took for them
    for d in list(line.store.delivered):
        texts[d.user_id].append(str(d.message.get("text") or ""))
    operator_rows = session.execute(
        select(OutboundMessage, LineUser.line_user_id).join(LineUser, LineUser.id == OutboundMessage.user_id)
        .where(OutboundMessage.id.in_(select(MessageLog.outbound_id).where(MessageLog.operator_id.is_not(None))))
    ).all()
    not_once = []
    for message, user in operator_rows:
        accepted = len(calls.pushes.get(message.retry_key, [])) + len(calls.replies.get(message.reply_token or "", []))
        said = [str(m.get("text")) for m in message.messages]
        received = [t for t in texts[user] if t in said]
        if message.status != "sent" or accepted != 1 or len(received) != len(said):
            not_once.append(f"#{message.id} {message.status}, accepted {accepted}x, received {len(received)}x")
    fail("operator chat messages not delivered exactly once", not_once)
    if tally.operator["sent"] and len(operator_rows) != tally.operator["sent"]:
        short.append(f"the operator sent {tally.operator['sent']} chat messages but {len(operator_rows)} were queued")
    fail("chats left waiting or active", [f"chat {c.id} {c.status}" for c in
                                          session.scalars(select(Chat).where(Chat.status.in_(OPEN)))])
    fail("users who asked for a person and were told neither that they wait nor that nobody can take it",
         sorted(u for u in tally.asked if not any(QUEUED in t or any(c in t for c in CLOSED) for t in texts[u])))
    # The bot's answer to an event carries that event's reply token (delivered by reply or pushed).
    written = list(tally.written)
    answered = session.execute(
        select(OutboundMessage.id, OutboundMessage.reply_token).where(
            OutboundMessage.reply_token.in_(written),
            ~OutboundMessage.id.in_(select(MessageLog.outbound_id).where(MessageLog.operator_id.is_not(None))))
    ).all() if written else []
    fail("messages written inside an open chat that the bot answered", [f"#{i}" for i, _ in answered])
    fail("the operator's console failed", tally.errors)
    ended = Counter(by for (by,) in session.execute(select(Chat.ended_by)))
    methods = Counter(m.method for m, _ in operator_rows)
    print(f"chats: {len(tally.asked)} users asked, {len(tally.queued)} queued, {len(tally.closed)} told closed, "
          f"{len(tally.taken)} taken; {len(written)} messages written in a chat; operator {dict(tally.operator)}, "
          f"its messages {dict(methods)}; ended by {dict(ended)}; {tally.rated} rated")
    return short


def print_summary(driver, line, graph, queue, events, outbound, bookings, dead, accepted) -> None:
    t, s = driver.tally, driver.service
    print("\n== fault suite ==")
    print(f"users {driver.size.users}, events posted {t.posted} (+{t.extra_posts} repeated or redelivered, "
          f"post retries {dict(t.post_retries)}), events stored {events}")
    print(f"LINE: {len(line.calls)} calls, injected {dict(line.injected)}; bot messages {outbound}, "
          f"accepted replies/pushes {accepted}, retry-key 409s {sum(line.calls.conflicts.values())}")
    print(f"Graph: {len(graph.calls)} calls, injected {dict(graph.injected)}, "
          f"503 while down {sum(1 for c in graph.calls if c.status == 503) - graph.injected.get(503, 0)}, "
          f"live events {len(graph.live_events())}, cancelled {len(graph.events) - len(graph.live_events())}")
    print(f"bookings {dict(bookings)}; users confirmed {len(t.confirmed_users)}, cancelled {len(t.cancelled_users)}")
    print(f"workers SIGKILLed {s.kills}, restarted {s.restarts}; jobs {queue}, dead {dead}")


# What the population types that is personal (the phone and address are caught by the scan's patterns).
TYPED_PERSONAL = ("山田 太郎", "ヤマダ タロウ", "やまだ たろう", "転職を考えています", *CHAT_LINES, OPERATOR_SAYS)


def scan_logs(work: Path, secrets: list[str]) -> list[str]:
    """Every line the web and worker processes logged, scanned for personal data and secrets (the
    in-process scan of the test suite cannot see other processes)."""
    found, lines = [], 0
    for path in sorted(work.glob("*.log")):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            lines += 1
            hits = leaks(line, secrets) + [f"typed text {p!r}" for p in TYPED_PERSONAL if p in line]
            found += [f"{path.name}:{number} logged {hit}" for hit in hits]
    print(f"service logs scanned: {lines} lines, {len(found)} with personal data or secrets")
    return found[:20]

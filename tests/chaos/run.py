"""The fault suite: `python -m tests.chaos.run --users 500 --events 10000` (what `make chaos` runs).

It starts the real service (gunicorn web, two `bot.worker` processes, a throwaway PostgreSQL
cluster) against the fake LINE platform and the fake Entra ID and Graph on loopback, and drives it
with a scripted population: each user follows, agrees to the policy, books through the whole
conversation, some cancel, and the rest of their events are ordinary chatter. Meanwhile:

- the fake LINE answers 429 or 500 to 20% of calls and stalls on some (shorter than the client's
  read timeout);
- the fake Graph answers 429 (Retry-After) or 503 to 30% of calls and is down for a while midway;
- 10% of the events are posted twice (same webhookEventId) or redelivered later;
- a worker is SIGKILLed a few times and started again.

Then it waits (bounded) for the queue to drain and checks, from the database and the fakes'
records, that every event was processed exactly once, every bot message delivered exactly once,
every confirmed booking has one Teams event and one join-link message, every cancellation reached
Graph, no slot holds two bookings and no job is dead without an operator alert. Any shortfall is
printed and the exit status is 1. Nothing here passes or fails on time: waits are only bounded.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select, text

from bot.demo import load_demo_data
from bot.simulator import events as line_events
from models import Booking, Job, LineUser, OperatorAlert, OutboundMessage, WebhookEvent
from models.database import Database
from tests.support.chat import actions_in, texts_in
from tests.support.fake_entra import FakeEntra
from tests.support.fake_graph import FakeGraph
from tests.support.fake_line import LOADING, PUSH, REPLY, FakeLine
from tests.support.https_fake import trusting
from tests.support.log_scan import leaks
from tests.support.postgres import _free_port, start_cluster
from tests.support.processes import stop_groups

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_SECRET = "chaos-channel-secret-0123456789ab"
ACCESS_TOKEN = "chaos-access-token"
ORGANIZER = "desk-meetings@desk.example.jp"
TOPICS = ("キャリア・転職", "収入・家計", "職場の悩み・労働条件", "その他")
CHATTER = ("ヘルプ", "よくある質問", "メニュー")
DATE_LABEL = re.compile(r"^\d{1,2}/\d{1,2}\(.\)$")
TIME_LABEL = re.compile(r"^\d{1,2}:\d\d$")
JOIN_HEADING = "ご相談の参加用リンクをお送りします"


@dataclass
class Size:
    users: int = 500
    events: int = 10_000
    graph_down_seconds: float = 120.0
    kills: int = 3
    workers: int = 2
    seed: int = 6
    line_fault_rate: float = 0.20
    line_stall_rate: float = 0.05
    graph_fault_rate: float = 0.30
    duplicate_rate: float = 0.10
    cancel_share: float = 0.3
    concurrency: int = 48
    answer_timeout: float = 240.0  # how long a user waits for one answer before giving up
    run_timeout: float = 3 * 3600.0  # the whole population, at most
    drain_timeout: float = 1800.0


# -- the fakes, with faults at a rate ------------------------------------------------------------

class _IndexedCalls(list):
    """The fake LINE's call list, indexed on the way in by reply token and retry key (accepted only)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.replies: dict[str, list[Any]] = defaultdict(list)
        self.pushes: dict[str, list[Any]] = defaultdict(list)
        self.conflicts: dict[str, int] = defaultdict(int)

    def append(self, call: Any) -> None:
        with self.lock:
            super().append(call)
            if call.path == REPLY and call.status == 200:
                self.replies[str(call.body.get("replyToken"))].append(call)
            elif call.path == PUSH:
                key = {k.lower(): v for k, v in call.headers.items()}.get("x-line-retry-key", "")
                if call.status == 200:
                    self.pushes[key].append(call)
                elif call.status == 409:
                    self.conflicts[key] += 1


class ChaoticLine(FakeLine):
    """The fake LINE answering 429/500 to a share of Messaging API calls and stalling on some
    (each stall shorter than the bot's read timeout: slow, not lost)."""

    def __init__(self, size: Size, rng: random.Random) -> None:
        super().__init__(ACCESS_TOKEN)
        self.calls = _IndexedCalls()
        self._rng, self._size, self._rng_lock = rng, size, threading.Lock()
        self.injected: Counter = Counter()

    def _next_fault(self, path: str) -> Any:
        scripted = super()._next_fault(path)
        if scripted is not None or path not in (REPLY, PUSH, LOADING):
            return scripted
        with self._rng_lock:
            roll = self._rng.random()
            if roll < self._size.line_fault_rate:
                fault: Any = self._rng.choice((429, 500))
            elif roll < self._size.line_fault_rate + self._size.line_stall_rate:
                fault = (self._rng.choice(("stall", "accept_then_stall")), round(self._rng.uniform(0.2, 2.0), 2))
            else:
                return None
        self.injected[fault if isinstance(fault, int) else fault[0]] += 1
        return fault


class ChaoticGraph(FakeGraph):
    """The fake Graph answering 429 (Retry-After) or 503 to a share of calls."""

    def __init__(self, entra: FakeEntra, size: Size, rng: random.Random) -> None:
        super().__init__(entra, organizers={ORGANIZER})
        self._rng, self._size, self._rng_lock = rng, size, threading.Lock()
        self.injected: Counter = Counter()

    def _next_fault(self, kind: str) -> Any:
        scripted = super()._next_fault(kind)
        if scripted is not None:
            return scripted
        with self._rng_lock:
            if self._rng.random() >= self._size.graph_fault_rate:
                return None
            fault = self._rng.choice((429, 503))
        self.injected[fault] += 1
        return fault


# -- the service's processes ---------------------------------------------------------------------

class Service:
    """gunicorn web and the workers, each in its own process group, logging to files."""

    def __init__(self, env: dict[str, str], logs: Path, workers: int) -> None:
        self.env, self.logs = env, logs
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.web = self._start("web", [sys.executable, "-m", "gunicorn", "--config", "python:bot.gunicorn_conf",
                                       "--bind", f"127.0.0.1:{self.port}", "bot:create_app()"])
        self.workers = [self._start(f"worker{i}", [sys.executable, "-m", "bot.worker"]) for i in range(workers)]
        self.kills = 0
        self.restarts = 0

    def _start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as out:  # the child keeps its own copy
            return subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.web.returncode}; see {self.logs}/web.log")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("the web server did not come up")

    def kill_worker(self, index: int) -> None:
        """SIGKILL one worker (its whole group, mid-job or not) and start a new one in its place."""
        process = self.workers[index]
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(10)
        self.kills += 1
        self.workers[index] = self._start(f"worker{index}", [sys.executable, "-m", "bot.worker"])
        self.restarts += 1

    def workers_alive(self) -> bool:
        return all(p.poll() is None for p in self.workers)

    def stop(self) -> None:
        stop_groups(*self.workers, self.web)


# -- the population ------------------------------------------------------------------------------

@dataclass
class Seen:
    """One answer as the user's phone shows it."""
    messages: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return "\n".join(texts_in(self.messages))

    @property
    def buttons(self) -> dict[str, dict[str, Any]]:
        return {a["label"]: a for a in actions_in(self.messages) if "label" in a}


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    posted: int = 0  # distinct events
    extra_posts: int = 0  # the same event posted again or redelivered
    post_retries: Counter = field(default_factory=Counter)  # posts not acknowledged and sent again, as LINE does
    event_ids: set[str] = field(default_factory=set)
    confirmed_users: set[str] = field(default_factory=set)
    cancelled_users: set[str] = field(default_factory=set)
    unanswered: list[str] = field(default_factory=list)
    lost_posts: list[str] = field(default_factory=list)


class Driver:
    def __init__(self, size: Size, service: Service, line: ChaoticLine, db: Database) -> None:
        self.size, self.service, self.line, self.db = size, service, line, db
        self.tally = Tally()
        self.stop = threading.Event()
        self.deadline = time.monotonic() + size.run_timeout
        self.http = threading.local()
        self.graph_went_down = False

    # one webhook post, retried a few times when the service does not acknowledge it
    def _post(self, event: dict[str, Any]) -> bool:
        session = getattr(self.http, "session", None)
        if session is None:
            session = self.http.session = requests.Session()
        body = line_events.body(event)
        headers = {"X-Line-Signature": line_events.signature(CHANNEL_SECRET, body),
                   "Content-Type": "application/json"}
        for attempt in range(5):
            try:
                status = session.post(f"{self.service.url}/callback", data=body.encode(), headers=headers,
                                      timeout=(5, 30)).status_code
                if status == 200:
                    return True
                why = str(status)
            except requests.RequestException as e:  # e.g. a kept-alive connection the server just closed
                why = type(e).__name__
            with self.tally.lock:
                self.tally.post_retries[why] += 1
            time.sleep(1 + attempt)
        return False

    def _answer(self, token: str) -> Seen | None:
        """Wait (bounded) for what the user received for the event that carried `token`: the reply,
        or the push the bot fell back to (found by the message's retry key)."""
        deadline = time.monotonic() + self.size.answer_timeout
        retry_key, next_db_look = None, time.monotonic() + 2.0
        calls = self.line.calls
        while time.monotonic() < deadline and not self.stop.is_set():
            with calls.lock:
                found = calls.replies.get(token) or (calls.pushes.get(retry_key) if retry_key else None)
            if found:
                return Seen(found[0].body.get("messages") or [])
            if retry_key is None and time.monotonic() >= next_db_look:
                next_db_look = time.monotonic() + 2.0
                with self.db.transaction() as session:
                    retry_key = session.scalar(select(OutboundMessage.retry_key)
                                               .where(OutboundMessage.reply_token == token))
            time.sleep(0.1)
        return None

    def send(self, user_id: str, rng: random.Random, build) -> Seen | None:
        token = self.line.store.issue_reply_token(user_id, 60.0)
        event = build(token)
        with self.tally.lock:
            self.tally.posted += 1
        duplicate = rng.random() < self.size.duplicate_rate
        twice_now = duplicate and rng.random() < 0.5
        if not self._post(event):
            with self.tally.lock:
                self.tally.lost_posts.append(event["webhookEventId"])
            return None
        with self.tally.lock:
            self.tally.event_ids.add(event["webhookEventId"])
        if twice_now:
            self._post(event)
            with self.tally.lock:
                self.tally.extra_posts += 1
        seen = self._answer(token)
        if duplicate and not twice_now:
            redelivered = json.loads(json.dumps(event))
            redelivered["deliveryContext"]["isRedelivery"] = True
            self._post(redelivered)
            with self.tally.lock:
                self.tally.extra_posts += 1
        return seen

    def user(self, number: int, budget: int) -> None:
        rng = random.Random(self.size.seed * 100_003 + number)
        user_id = f"U{number + 0xC4A05000:032x}"
        cancels = rng.random() < self.size.cancel_share
        booked = cancelled = False
        step = 0

        def text(said: str):
            return lambda token: line_events.text(user_id, token, said)

        def tap(action: dict[str, Any]):
            if action.get("type") == "message":
                return text(action["text"])
            params = None
            if action.get("type") == "datetimepicker":
                params = {"date": action.get("initial") or action.get("min")}
            return lambda token: line_events.postback(user_id, token, action["data"], params)

        seen = None
        build = lambda token: line_events.follow(user_id, token)
        for step in range(budget):
            if self.stop.is_set() or time.monotonic() > self.deadline:
                break
            seen = self.send(user_id, rng, build)
            if seen is None:
                with self.tally.lock:
                    self.tally.unanswered.append(f"{user_id} at event {step + 1}")
                return
            said, buttons = seen.text, seen.buttons
            if "ご予約が確定しました" in said:
                booked = True
                with self.tally.lock:
                    self.tally.confirmed_users.add(user_id)
            if "の予約をキャンセルしました" in said:
                cancelled = True
                with self.tally.lock:
                    self.tally.cancelled_users.add(user_id)
            build = self._next(rng, said, buttons, booked, cancels and not cancelled, text, tap)

    @staticmethod
    def _next(rng, said, buttons, booked, wants_cancel, text, tap):
        if "同意する" in buttons:
            return tap(buttons["同意する"])
        if not booked:
            if "確定" in buttons:
                return tap(buttons["確定"])
            last_line = (said.strip().splitlines() or [""])[-1]
            for prompt, answer in (("ご相談内容", "転職を考えています。残業が多くて悩んでいます。"),
                                   ("電話番号", "090-1234-5678"), ("メールアドレス", "taro@example.jp"),
                                   ("年齢", "25"), ("フリガナ", "やまだ たろう"), ("お名前", "山田 太郎")):
                if prompt in last_line:  # the question is the answer's last line
                    return text(answer)
            times = [label for label in buttons if TIME_LABEL.match(label)]
            if times:
                return tap(buttons[rng.choice(times)])
            dates = [label for label in buttons if DATE_LABEL.match(label)]
            if dates:
                return tap(buttons[rng.choice(dates)])
            topics = [label for label in buttons if label in TOPICS]
            if topics:
                return tap(buttons[rng.choice(topics)])
            if "相談を予約する" in buttons:
                return tap(buttons["相談を予約する"])
            return text("予約したい")
        if wants_cancel:
            if "はい" in buttons and "キャンセルしますか" in said:
                return tap(buttons["はい"])
            if "キャンセルする" in buttons:
                return tap(buttons["キャンセルする"])
            if "予約の確認・キャンセル" in buttons:
                return tap(buttons["予約の確認・キャンセル"])
            return text("メニュー")
        return text(rng.choice(CHATTER))

    def run_population(self) -> None:
        users, events = self.size.users, self.size.events
        budgets = [events // users + (1 if i < events % users else 0) for i in range(users)]
        with ThreadPoolExecutor(max_workers=self.size.concurrency, thread_name_prefix="user") as pool:
            futures = [pool.submit(self.user, i, budgets[i]) for i in range(users)]
            for number, future in enumerate(futures):
                try:
                    future.result()
                except Exception as e:  # noqa: BLE001 (a driver fault is reported as a shortfall, never hidden)
                    with self.tally.lock:
                        self.tally.unanswered.append(f"user {number}: driver error {type(e).__name__}: {e}")


# -- faults on a schedule ------------------------------------------------------------------------

def disturb(driver: Driver, graph: ChaoticGraph, log) -> threading.Thread:
    """Take Graph down once midway and kill a worker at evenly spaced points of the run."""
    size = driver.size
    kill_points = [size.events * (k + 1) // (size.kills + 1) for k in range(size.kills)]
    down_at = size.events // 2

    def loop() -> None:
        down_done, kills_done = False, 0
        while not driver.stop.is_set() and (not down_done or kills_done < len(kill_points)):
            posted = driver.tally.posted
            if not down_done and posted >= down_at:
                graph.down(size.graph_down_seconds)
                driver.graph_went_down = True
                log(f"graph down for {size.graph_down_seconds:.0f} s at event {posted}")
                down_done = True
            if kills_done < len(kill_points) and posted >= kill_points[kills_done]:
                index = kills_done % len(driver.service.workers)
                driver.service.kill_worker(index)
                log(f"worker {index} SIGKILLed and restarted at event {posted}")
                kills_done += 1
            driver.stop.wait(0.2)

    thread = threading.Thread(target=loop, name="disturb", daemon=True)
    thread.start()
    return thread


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
    if not driver.service.workers_alive():
        short.append("a worker died on its own")
    if driver.service.kills < driver.size.kills or not driver.graph_went_down:
        short.append(f"the faults did not all happen: {driver.service.kills} of {driver.size.kills} kills, "
                     f"Graph down: {driver.graph_went_down}")
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
TYPED_PERSONAL = ("山田 太郎", "ヤマダ タロウ", "やまだ たろう", "転職を考えています")


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


# -- putting it together -------------------------------------------------------------------------

def run(size: Size, log=print) -> list[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fakes' request lines would drown the report
    cluster = start_cluster()
    work = Path(tempfile.mkdtemp(prefix="desk-chaos-"))
    rng = random.Random(size.seed)
    line = ChaoticLine(size, random.Random(rng.random()))
    entra = FakeEntra()
    graph = ChaoticGraph(entra, size, random.Random(rng.random()))
    service = None
    db = None
    keep_logs = True  # the service's logs stay for a look unless every check held
    try:
        url = cluster.migrated_database("chaos")
        db = Database(url, pool_size=10)
        load_demo_data(db)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "DATABASE_URL", "GRAPH_"))}
        env.update(
            PYTHONUNBUFFERED="1", PORT=str(_free_port()), DATABASE_URL=url, SECRET_KEY="chaos",
            INSTANCE_PATH=str(work / "instance"),
            LINE_CHANNEL_SECRET=CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN, LINE_API_BASE_URL=line.url,
            PUBLIC_BASE_URL="https://desk.example.jp",
            GRAPH_TENANT_ID=entra.tenant, GRAPH_CLIENT_ID=entra.client_id, GRAPH_CLIENT_SECRET=entra.client_secret,
            GRAPH_ORGANIZER=ORGANIZER, GRAPH_AUTHORITY=entra.authority, GRAPH_BASE_URL=graph.base_url,
            REQUESTS_CA_BUNDLE=entra.ca_path, CURL_CA_BUNDLE=entra.ca_path,
            JOB_LEASE_SECONDS="30", WORKER_POLL_SECONDS="0.1", SCHEDULER_SECONDS="10",
        )
        log(f"logs in {work}")
        service = Service(env, work, size.workers)
        service.wait_ready()
        driver = Driver(size, service, line, db)
        disturber = disturb(driver, graph, log)
        try:
            with trusting(entra.ca_path):
                driver.run_population()
        finally:
            driver.stop.set()
            disturber.join(5)
        log(f"population done: {driver.tally.posted} events; waiting for the queue to drain")
        queue = drain(db, size.drain_timeout, log)
        shortfalls = check(driver, line, graph, db, queue)
        service.stop()  # flushes the processes' logs for the scan
        service = None
        shortfalls += scan_logs(work, [CHANNEL_SECRET, ACCESS_TOKEN, entra.client_secret])
        if not shortfalls:
            keep_logs = False
        return shortfalls
    finally:
        if service is not None:
            service.stop()
        if db is not None:
            db.dispose()
        line.close()
        graph.close()
        entra.close()
        cluster.stop()
        if not keep_logs:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=Size.users)
    parser.add_argument("--events", type=int, default=Size.events)
    parser.add_argument("--graph-down", type=float, default=Size.graph_down_seconds, help="seconds")
    parser.add_argument("--kills", type=int, default=Size.kills)
    parser.add_argument("--seed", type=int, default=Size.seed)
    parser.add_argument("--concurrency", type=int, default=Size.concurrency, help="users in flight at once")
    args = parser.parse_args(argv)
    size = Size(users=args.users, events=args.events, graph_down_seconds=args.graph_down, kills=args.kills,
                seed=args.seed, concurrency=args.concurrency)
    shortfalls = run(size)
    if shortfalls:
        print("\nFAILED: shortfalls")
        for line in shortfalls:
            print(f"- {line}")
        return 1
    print("\nOK: every check held")
    return 0


if __name__ == "__main__":
    sys.exit(main())

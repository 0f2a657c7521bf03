"""The fault suite's population: the run's size, and the scripted users driven through the service
over webhook posts, each waiting for its answer at the fake LINE."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from sqlalchemy import select

from bot.simulator import events as line_events
from models import OutboundMessage
from models.database import Database
from tests.support.chat import actions_in, texts_in

if TYPE_CHECKING:
    from tests.chaos.chats import ChatDesk
    from tests.chaos.faults import ChaoticLine
    from tests.chaos.service import Service

CHANNEL_SECRET = "chaos-channel-secret-0123456789ab"
ACCESS_TOKEN = "chaos-access-token"
ORGANIZER = "desk-meetings@desk.example.jp"
TOPICS = ("キャリア・転職", "収入・家計", "職場の悩み・労働条件", "その他")
CHATTER = ("ヘルプ", "よくある質問", "メニュー")
# The events a booked user has after a night, at least: 予約の確認, 遅れる・参加できない, 遅れる, 10分.
MORNING_EVENTS = 4
DATE_LABEL = re.compile(r"^\d{1,2}/\d{1,2}\(.\)$")
TIME_LABEL = re.compile(r"^\d{1,2}:\d\d$")


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
    chat_share: float = 0.2  # users who ask for a person after agreeing, instead of booking (tests/chaos/chats.py)
    concurrency: int = 48
    answer_timeout: float = 240.0  # how long a user waits for one answer before giving up
    run_timeout: float = 3 * 3600.0  # the whole population, at most
    drain_timeout: float = 1800.0


# -- the population ------------------------------------------------------------------------------

def first_date_mostly(rng: random.Random, dates: list[str]) -> str:
    """The first date offered three times in four: sessions on the day after the run's night."""
    return dates[0] if rng.random() < 0.75 else rng.choice(dates)


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
    def __init__(self, size: Size, service: Service, line: ChaoticLine, db: Database,
                 chats: ChatDesk | None = None) -> None:
        self.size, self.service, self.line, self.db, self.chats = size, service, line, db, chats
        self.tally = Tally()
        self.stop = threading.Event()
        self.deadline = time.monotonic() + size.run_timeout
        self.http = threading.local()
        self.graph_went_down = False
        self.fault_errors: list[str] = []  # faults the schedule could not make (tests/chaos/faults.py)
        self.awake = threading.Event()  # cleared at the run's night: users write nothing until morning
        self.awake.set()
        self.mornings = 0
        self._posting = 0
        self._posting_lock = threading.Condition()

    def night_falls(self, timeout: float = 120.0) -> None:
        """No user posts from now until `morning()`; returns once the posts under way are answered
        by the service (acknowledged or given up)."""
        self.awake.clear()
        with self._posting_lock:
            self._posting_lock.wait_for(lambda: self._posting == 0, timeout)

    def morning(self) -> None:
        self.mornings += 1
        self.awake.set()

    # one webhook post, retried a few times when the service does not acknowledge it
    def _post(self, event: dict[str, Any]) -> bool:
        while not self.awake.wait(0.5):
            if self.stop.is_set():
                return False
        with self._posting_lock:
            self._posting += 1
        try:
            return self._post_now(event)
        finally:
            with self._posting_lock:
                self._posting -= 1
                self._posting_lock.notify_all()

    def _post_now(self, event: dict[str, Any]) -> bool:
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

    def send(self, user_id: str, rng: random.Random, build, wait=None) -> Seen | None:
        """Post one event (sometimes twice, or redelivered later) and wait for what the user sees:
        the bot's answer to it, or what `wait(token)` looks for (in a chat the bot stays silent)."""
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
        seen = (wait or self._answer)(token)
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
        mornings = self.mornings
        step = 0
        while step < budget:
            step += 1
            if self.stop.is_set() or time.monotonic() > self.deadline:
                break
            if booked and self.mornings > mornings:  # a new day: a booked user looks at their booking first
                build = text("予約の確認")
                # and has the events to say they will be late (予約の確認, 遅れる・参加できない, 遅れる, 10分),
                # however many they spent before the night
                budget = max(budget, step - 1 + MORNING_EVENTS)
            mornings = self.mornings
            seen = self.send(user_id, rng, build)
            if seen is None:
                with self.tally.lock:
                    self.tally.unanswered.append(f"{user_id} at event {step}")
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
                return tap(buttons[first_date_mostly(rng, dates)])
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

    def _user_of(self, number: int):
        """Who user `number` is: one who asks for a person (a share, when an operator plays the desk)
        or one who books; drawn apart from the user's own choices, which stay as they were."""
        asks = random.Random(self.size.seed * 7_919 + number).random() < self.size.chat_share
        return self.chats.user if asks and self.chats is not None else self.user

    def run_population(self) -> None:
        users, events = self.size.users, self.size.events
        budgets = [events // users + (1 if i < events % users else 0) for i in range(users)]
        with ThreadPoolExecutor(max_workers=self.size.concurrency, thread_name_prefix="user") as pool:
            futures = [pool.submit(self._user_of(i), i, budgets[i]) for i in range(users)]
            for number, future in enumerate(futures):
                try:
                    future.result()
                except Exception as e:  # noqa: BLE001 (a driver fault is reported as a shortfall, never hidden)
                    with self.tally.lock:
                        self.tally.unanswered.append(f"user {number}: driver error {type(e).__name__}: {e}")

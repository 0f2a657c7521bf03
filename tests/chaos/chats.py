"""The fault suite's chats (issue 17): users who ask for a person after agreeing to the policy, and
an operator who plays the console through `handlers.chats` (on the service's database and config):
takes the waiting chats, answers each message a user writes, and ends some chats itself.

While a chat is open the bot says nothing to the user, so a chatting user's message is posted
without waiting for a bot answer: what the user waits for is the operator's message, by reply to
that message's token while it is fresh, else by push. Then 終了 (unless the operator ended the chat
first) and, often, a tap on the rating question.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bot.services import Services
from bot.simulator import events as line_events
from handlers import chats
from models import Chat
from models.chat import ACTIVE, OUTCOMES, WAITING
from tests.chaos.driver import CHATTER, Seen
from tests.support.chat_desk import on_duty, operator

if TYPE_CHECKING:
    from tests.chaos.driver import Driver

ASK = "人と話したい"
QUEUED = "順番待ちに登録しました"
CLOSED = ("対応できる相談員がいません", "チャット相談の受付時間外")
TAKEN = "相談員につながりました"
ENDED = "チャット相談を終了しました"
# What the chatting users write and the operator answers: kept out of every log (invariants.scan_logs).
CHAT_LINES = ("上司との関係に悩んでいます", "残業が毎月80時間を超えています", "転職するか迷っています")
OPERATOR_SAYS = "ご事情を伺いました"
GO_ON = "続けてお書きください"  # the operator's last message of an answer: the user writes again after it


@dataclass
class ChatTally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    asked: set[str] = field(default_factory=set)  # users who asked for a person
    queued: set[str] = field(default_factory=set)  # ... and were told they are in line
    closed: set[str] = field(default_factory=set)  # ... or that nobody can take a chat now
    taken: set[str] = field(default_factory=set)  # users who heard an operator took their chat
    written: dict[str, str] = field(default_factory=dict)  # reply token of each message written in a chat -> user
    ended_by_user: int = 0
    ended_by_operator: int = 0
    rated: int = 0
    operator: Counter = field(default_factory=Counter)  # taken, sent, closed, refused (ChatError)
    errors: list[str] = field(default_factory=list)  # the operator's unexpected failures


class _GaveUp(Exception):
    """The user got no answer within the bound (already noted as unanswered)."""


class ChatDesk:
    """The chatting users and the operator on duty."""

    def __init__(self, driver: Driver, services: Services, rng: random.Random) -> None:
        self.driver, self.services, self.rng = driver, services, rng
        self.tally = ChatTally()
        self.operator_id = on_duty(services, email="chaos-duty@desk.example.jp", name="当番 相談員")
        self.answered: Counter = Counter()  # chat id -> operator messages sent in it
        self.closes_after: dict[int, int | None] = {}  # chat id -> the operator ends it at the next message after
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._console, name="operator", daemon=True)
        driver.chats = self

    # -- the operator ----------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(30)

    def _console(self) -> None:
        while not self.done.is_set():
            try:
                self._round()
            except Exception as e:  # noqa: BLE001 (reported as a shortfall at the end, never hidden)
                with self.tally.lock:
                    self.tally.errors.append(f"{type(e).__name__}: {e}")
            self.done.wait(0.2)

    def _act(self, what: str, action) -> None:
        try:
            with self.services.db.transaction() as session:
                action(session, operator(session, self.operator_id))
        except chats.ChatError:
            what = "refused"
        with self.tally.lock:
            self.tally.operator[what] += 1

    def _round(self) -> None:
        db, services = self.services.db, self.services
        with db.transaction() as session:
            waiting = session.scalars(select(Chat.id).where(Chat.status == WAITING).order_by(Chat.id)).all()
            # A kept reply token: the user wrote since the operator's last message (the bot left it unanswered).
            unanswered = session.scalars(select(Chat.id).where(
                Chat.status == ACTIVE, Chat.operator_id == self.operator_id, Chat.reply_token.is_not(None))).all()
        for chat_id in waiting:
            self._act("taken", lambda s, me, c=chat_id: chats.take(services, s, c, me))
        for chat_id in unanswered:
            limit = self.closes_after.setdefault(chat_id, self.rng.choice((None, None, 1, 2)))
            if limit is not None and self.answered[chat_id] >= limit:
                outcome = self.rng.choice(sorted(OUTCOMES))
                self._act("closed", lambda s, me, c=chat_id, o=outcome: chats.close(services, s, c, me, o))
                continue
            self.answered[chat_id] += 1
            said = f"{OPERATOR_SAYS}（{chat_id}-{self.answered[chat_id]}）。"
            # Some answers take two messages: the first goes by the user's reply token, the second by push.
            for text in ([said] if self.rng.random() < 0.6 else []) + [f"{said}{GO_ON}。"]:
                self._act("sent", lambda s, me, c=chat_id, t=text: chats.send(services, s, c, me, "text", t))

    # -- a user who asks for a person ------------------------------------------------------------

    def user(self, number: int, budget: int) -> None:
        driver = self.driver
        rng = random.Random(driver.size.seed * 100_003 + number)
        user_id = f"U{number + 0xC4A05000:032x}"
        steps = [0]

        def say(build, wait=None) -> Seen:
            if driver.stop.is_set() or time.monotonic() > driver.deadline or steps[0] >= budget:
                raise _GaveUp
            steps[0] += 1
            seen = driver.send(user_id, rng, build, wait)
            if seen is None:
                with driver.tally.lock:
                    driver.tally.unanswered.append(f"{user_id} (chat) at event {steps[0]}")
                raise _GaveUp
            return seen

        def text(said: str):
            return lambda token: line_events.text(user_id, token, said)

        def tap(action: dict[str, Any]):
            return lambda token: line_events.postback(user_id, token, action["data"])

        try:
            seen = say(lambda token: line_events.follow(user_id, token))
            if "同意する" in seen.buttons:
                say(tap(seen.buttons["同意する"]))
            self._chat(user_id, rng, say, text, tap)
            while True:  # the rest of the user's events: ordinary chatter
                say(text(rng.choice(CHATTER)))
        except _GaveUp:
            pass

    def _chat(self, user_id: str, rng: random.Random, say, text, tap) -> None:
        tally = self.tally
        with tally.lock:
            tally.asked.add(user_id)
        heard = self._pushes_to(user_id)
        seen = say(text(ASK))
        if QUEUED not in seen.text:
            if any(c in seen.text for c in CLOSED):
                with tally.lock:
                    tally.closed.add(user_id)
            return
        with tally.lock:
            tally.queued.add(user_id)
        if self._pushed(user_id, heard, TAKEN) is None:
            with self.driver.tally.lock:
                self.driver.tally.unanswered.append(f"{user_id}: no operator took the chat")
            raise _GaveUp
        with tally.lock:
            tally.taken.add(user_id)
        for _ in range(rng.randint(2, 4)):
            heard = self._pushes_to(user_id)
            seen = say(text(rng.choice(CHAT_LINES)), lambda token, h=heard: self._heard(user_id, token, h))
            if ENDED in seen.text:  # the operator ended the chat instead of answering
                with tally.lock:
                    tally.ended_by_operator += 1
                break
        else:
            seen = say(text("終了"))
            if ENDED in seen.text:
                with tally.lock:
                    tally.ended_by_user += 1
        scores = [label for label in seen.buttons if label.isdigit()]
        if scores and rng.random() < 0.7:
            seen = say(tap(seen.buttons[rng.choice(scores)]))
            if "ご回答ありがとうございました" in seen.text:
                with tally.lock:
                    tally.rated += 1

    def _pushes_to(self, user_id: str) -> int:
        calls = self.driver.line.calls
        with calls.lock:
            return len(calls.pushed_to[user_id])

    def _heard(self, user_id: str, token: str, heard: int) -> Seen | None:
        """Wait (bounded) for the operator's answer after the user wrote (its last message, or the
        chat's end): by reply to the token of what they wrote, or pushed after the first `heard`."""
        with self.tally.lock:
            self.tally.written[token] = user_id
        calls = self.driver.line.calls
        deadline = time.monotonic() + self.driver.size.answer_timeout
        while time.monotonic() < deadline and not self.driver.stop.is_set():
            with calls.lock:
                found = [Seen(c.body.get("messages") or []) for c in calls.replies.get(token, [])
                         + calls.pushed_to[user_id][heard:]]
            for seen in found:
                if GO_ON in seen.text or ENDED in seen.text:
                    return seen
            time.sleep(0.1)
        return None

    def _pushed(self, user_id: str, heard: int, words: str) -> Seen | None:
        """Wait (bounded) for a push to the user, after the first `heard`, that says `words`."""
        calls = self.driver.line.calls
        deadline = time.monotonic() + self.driver.size.answer_timeout
        while time.monotonic() < deadline and not self.driver.stop.is_set():
            with calls.lock:
                found = [Seen(c.body.get("messages") or []) for c in calls.pushed_to[user_id][heard:]]
            for seen in found:
                if words in seen.text:
                    return seen
            time.sleep(0.1)
        return None

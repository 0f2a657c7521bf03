"""The benchmark's chat operator (issue 17): before the steady phase, users ask for a person through
the service and an operator takes their chats; during the phase the operator answers them through
`handlers.chats.send` at a steady pace, and each message is timed from its commit to its arrival
at the fake LINE (by reply token, else by its push's retry key; see report.chat_summary)."""

from __future__ import annotations

import threading
import time

import requests
from sqlalchemy import select

from bench import report
from bench.processes import log
from bot.config import Config
from bot.services import Services
from bot.simulator import events as line_events
from handlers import chats
from models import Chat, OutboundMessage
from models.chat import WAITING
from tests.support.chat_desk import on_duty, operator

ASKED = ("同意する", "チャット相談")  # after the follow: agree to the policy, then ask for a person


class ChatDesk:
    """The operator's console on the service's database and settings, and the chats it answers."""

    def __init__(self, env: dict[str, str], line, url: str, secret: str) -> None:
        self.services = Services.create(Config.from_env(env), pool_size=2)
        self.line, self.url, self.secret = line, url, secret
        self.operator_id = on_duty(self.services, email="bench-duty@desk.example.jp", name="当番 相談員")
        self.chat_ids: list[int] = []
        self.sends: list[report.ChatSend] = []
        self.failures = 0
        self._thread: threading.Thread | None = None

    def close(self) -> None:
        self.services.close()

    def set_up(self, count: int, timeout: float = 60.0) -> None:
        """`count` users follow, agree and ask for a person over the webhook; the operator takes them all."""
        with requests.Session() as http:
            for i in range(count):
                user = f"UC0{i:030x}"
                for said in (None, *ASKED):
                    token = self.line.store.issue_reply_token(user, 60.0)
                    event = line_events.follow(user, token) if said is None else line_events.text(user, token, said)
                    body = line_events.body(event)
                    http.post(f"{self.url}/callback", data=body.encode(), timeout=10, headers={
                        "X-Line-Signature": line_events.signature(self.secret, body),
                        "Content-Type": "application/json"}).raise_for_status()
        deadline = time.monotonic() + timeout
        waiting: list[int] = []
        while time.monotonic() < deadline:
            with self.services.db.transaction() as session:
                waiting = session.scalars(select(Chat.id).where(Chat.status == WAITING).order_by(Chat.id)).all()
            if len(waiting) >= count:
                break
            time.sleep(0.5)
        for chat_id in waiting:
            with self.services.db.transaction() as session:
                chats.take(self.services, session, chat_id, operator(session, self.operator_id))
        self.chat_ids = list(waiting)
        log(f"chats: {len(self.chat_ids)} of {count} asked for and taken")

    def answer(self, start_at: float, seconds: float, rate: float = report.CHAT_RATE) -> None:
        """In a thread: one message every 1/rate s from `start_at` for `seconds`, the chats in turn."""
        self._thread = threading.Thread(target=self._answer, args=(start_at, seconds, rate), name="operator",
                                        daemon=True)
        self._thread.start()

    def finish(self, timeout: float = 30.0) -> list[report.ChatSend]:
        """The sends, once the operator is done and its messages arrived (bounded)."""
        if self._thread is not None:
            self._thread.join()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies, _ = self.line.calls.snapshot()
            pushed = self.line.calls.keyed_snapshot()
            if report.chat_summary(self.sends, replies, pushed).delivered >= len(self.sends):
                break
            time.sleep(0.5)
        return self.sends

    def _answer(self, start_at: float, seconds: float, rate: float) -> None:
        if not self.chat_ids:
            return
        for k in range(int(seconds * rate)):
            wait = start_at + k / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            chat_id = self.chat_ids[k % len(self.chat_ids)]
            try:
                with self.services.db.transaction() as session:
                    sent = chats.send(self.services, session, chat_id, operator(session, self.operator_id), "text",
                                      f"相談員からのお返事です（{k + 1}）。")
                    rows = session.execute(select(OutboundMessage.reply_token, OutboundMessage.retry_key)
                                           .where(OutboundMessage.id.in_(sent.outbound_ids))
                                           .order_by(OutboundMessage.id)).all()
                committed = time.monotonic()
            except chats.ChatError:  # counted as a message that never arrived
                self.failures += 1
                self.sends.append(report.ChatSend(time.monotonic(), None, f"failed-{k}"))
                continue
            for token, retry_key in rows[:1]:  # one text message: one row
                self.sends.append(report.ChatSend(committed, token if sent.by_reply else None, retry_key))

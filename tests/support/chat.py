"""A user's side of the conversation, for scripts: send, tap, pick, and read what the bot answered.

It drives the real engine over the real database desk, one transaction per turn as the worker
does, with no web server and no LINE in between. A script is a list of rows: an action and the
expectations on the bot's answer to it.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

from handlers.turns import converse, user_for
from conversations.inputs import (
    Follow,
    Postback,
    Text,
    Unfollow,
    Unsupported,
    UserInput,
)
from models import ConversationState, LineUser

# A Tuesday before the cut-off: Wednesday 2 December is the first day that can be booked.
TUESDAY_MORNING = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


def actions_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every action (button, quick reply, template action) in LINE messages, in order."""
    if isinstance(node, dict):
        if isinstance(node.get("action"), dict):
            yield node["action"]
        for key, value in node.items():
            if key != "action":
                yield from actions_in(value)
        if node.get("type") in ("buttons", "confirm") and "actions" in node:
            yield from node["actions"]
    elif isinstance(node, list):
        for item in node:
            yield from actions_in(item)


def texts_in(node: Any) -> Iterator[str]:
    """Every text a user reads in LINE messages, in order."""
    if isinstance(node, dict):
        for key in ("text", "altText"):
            if isinstance(node.get(key), str):
                yield node[key]
        for key, value in node.items():
            if key not in ("action", "quickReply"):
                yield from texts_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from texts_in(item)


@dataclass
class Answer:
    messages: list[dict[str, Any]]
    flow: str | None
    step: str | None

    @property
    def text(self) -> str:
        return "\n".join(texts_in(self.messages))

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return list(actions_in(self.messages))

    @property
    def labels(self) -> list[str]:
        return [b["label"] for b in self.buttons]


@dataclass
class Chat:
    """`at`: set the services' clock (a FrozenClock, shared by every chat) to this moment first."""

    services: Any
    user_id: str
    at: InitVar[datetime | None] = None
    last: Answer = field(default_factory=lambda: Answer([], None, None))

    def __post_init__(self, at: datetime | None) -> None:
        if at is not None:
            self.now = at

    @property
    def now(self) -> datetime:
        return self.services.clock()

    @now.setter
    def now(self, moment: datetime) -> None:
        self.services.clock.set(moment)

    def turn(self, user_input: UserInput) -> Answer:
        with self.services.db.transaction() as session:
            user = user_for(session, self.user_id)
            result = converse(session, self.services, user, user_input,
                              session.get(ConversationState, user.id))
            self.last = Answer(result.messages, result.flow, result.step)
        return self.last

    def follow(self) -> Answer:
        return self.turn(Follow())

    def unfollow(self) -> Answer:
        return self.turn(Unfollow())

    def send(self, text: str) -> Answer:
        return self.turn(Text(text))

    def sticker(self) -> Answer:
        return self.turn(Unsupported("sticker"))

    def button(self, label: str, answer: Answer | None = None) -> dict[str, Any]:
        answer = answer or self.last
        found = [b for b in answer.buttons if b["label"] == label]
        assert found, f"no button {label!r} among {answer.labels}"
        return found[0]

    def tap(self, label: str, answer: Answer | None = None, **params: str) -> Answer:
        action = self.button(label, answer)
        if action["type"] == "message":
            return self.send(action["text"])
        assert action["type"] in ("postback", "datetimepicker"), action
        return self.turn(Postback(action["data"], params))

    def later(self, **delta: float) -> "Chat":
        self.services.clock.advance(timedelta(**delta))
        return self

    def state(self) -> ConversationState | None:
        with self.services.db.transaction() as session:
            user = session.query(LineUser).filter_by(line_user_id=self.user_id).one()
            return session.get(ConversationState, user.id)


# Script rows: (action, *expectations)

Action = Callable[[Chat], Answer]
Expectation = Callable[[Answer], None]


def follow() -> Action:
    return lambda chat: chat.follow()


def send(text: str) -> Action:
    return lambda chat: chat.send(text)


def tap(label: str, **params: str) -> Action:
    return lambda chat: chat.tap(label, **params)


def says(*fragments: str) -> Expectation:
    def check(answer: Answer) -> None:
        for fragment in fragments:
            assert fragment in answer.text, f"{fragment!r} not in the answer:\n{answer.text}"
    return check


def never_says(*fragments: str) -> Expectation:
    def check(answer: Answer) -> None:
        for fragment in fragments:
            assert fragment not in answer.text, f"{fragment!r} unexpectedly in the answer:\n{answer.text}"
    return check


def offers(*labels: str) -> Expectation:
    def check(answer: Answer) -> None:
        for label in labels:
            assert label in answer.labels, f"no button {label!r} among {answer.labels}"
    return check


def at(flow: str | None, step: str | None = None) -> Expectation:
    def check(answer: Answer) -> None:
        assert (answer.flow, answer.step) == (flow, step), f"at {(answer.flow, answer.step)}"
    return check


def play(chat: Chat, script: list[tuple]) -> Answer:
    for number, (action, *expectations) in enumerate(script, start=1):
        answer = action(chat)
        for expect in expectations:
            try:
                expect(answer)
            except AssertionError as e:
                raise AssertionError(f"script row {number}: {e}") from None
    return chat.last

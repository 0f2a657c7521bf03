"""What a user did, in the conversation's own terms (handlers/ translates LINE events into these)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Follow:
    """The user added the account as a friend (again, when `unblocked`)."""

    unblocked: bool = False


@dataclass(frozen=True)
class Unfollow:
    """The user blocked the account."""


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Postback:
    """A tapped button; `params` holds a date picker's choice (date, time or datetime)."""

    data: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Unsupported:
    """Anything else a user can send: a sticker, an image, a location, ..."""

    kind: str


UserInput = Follow | Unfollow | Text | Postback | Unsupported

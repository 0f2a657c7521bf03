"""The vocabulary flows are written in: a flow is its steps in order; a step asks, then judges.

No state-machine library: every flow here is a script read top to bottom with a few jumps
(back, edit a field, pick another time), which an ordered list of steps says more plainly than
states and transitions wired through callbacks would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from conversations import messages as m
from conversations.desk import Desk


@dataclass
class State:
    """One user's place in a conversation, persisted between turns."""

    flow: str | None = None
    step: str | None = None
    run_id: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    reasks: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Said:
    """Typed text, for the step to parse."""

    text: str


@dataclass(frozen=True)
class Chose:
    """A button of this step (or a date picker's pick), with its value."""

    value: str
    params: dict[str, str] = field(default_factory=dict)


Reply = Said | Chose


@dataclass
class Ctx:
    desk: Desk
    state: State

    @property
    def answers(self) -> dict[str, Any]:
        return self.state.answers

    def data(self, step: str, value: str) -> str:
        """Postback data for a button of `step` in this run of the flow."""
        return f"{self.state.run_id}|{step}|{value}"

    def button(self, label: str, step: str, value: str, shown: str | None = None) -> m.Action:
        return m.postback_action(label, self.data(step, value), shown or label)


# What a step's judgement can be.

@dataclass
class Advance:
    """Accepted: keep `updates`, say `say`, then ask the next step (or `goto`)."""

    updates: dict[str, Any] = field(default_factory=dict)
    say: list[m.Message] = field(default_factory=list)
    goto: str | None = None


@dataclass
class Reask:
    """Not understood: say what is expected. Counts towards the re-ask cap."""

    message: str


@dataclass
class Stay:
    """Understood, but the user must answer this step again (e.g. the time was just taken)."""

    say: list[m.Message]


@dataclass
class Finish:
    """The flow is done; its holds stay as they are."""

    say: list[m.Message]


@dataclass
class Exit:
    """The flow ends without completing: whatever it held is let go."""

    say: list[m.Message]


@dataclass
class Start:
    """Go straight on into another flow (after consent, the booking that was asked for)."""

    flow: str
    say: list[m.Message] = field(default_factory=list)


Outcome = Advance | Reask | Stay | Finish | Exit | Start


@dataclass(frozen=True)
class Step:
    name: str
    ask: Callable[[Ctx], list[m.Message]]
    accept: Callable[[Ctx, Reply], Outcome]
    help: str
    # Text questions re-ask in one bubble; button questions show their buttons again.
    reask_with_question: bool = False
    # Words of crisis here get the hotlines and the text is still taken as the answer (and the
    # flow marked `attention`); elsewhere the flow waits for the next input.
    keeps_crisis_text: bool = False


@dataclass(frozen=True)
class Flow:
    name: str
    steps: tuple[Step, ...]
    # Runs before the first step; an Outcome here (a refusal) ends the flow before it starts.
    guard: Callable[[Ctx], Outcome | None] = lambda ctx: None
    # Whatever the flow holds is let go when it ends early: quit, timeout, menu, exit.
    on_leave: Callable[[Ctx], None] = lambda ctx: None
    # What the user is told when they quit it (やめる, キャンセル, ...).
    quit_text: str = "中止しました。入力途中の内容は保存していません。"

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"{self.name} has no step {name}")

    def after(self, name: str) -> str | None:
        names = [s.name for s in self.steps]
        index = names.index(name) + 1
        return names[index] if index < len(names) else None

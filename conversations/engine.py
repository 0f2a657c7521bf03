"""Runs one turn of a conversation: the user's input and their saved state in, the answer out.

In order, before any step sees the input: words of crisis (hotlines, flagged, the flow waits
unless the step keeps the text), a
block, the pause notice, the inactivity reset, a new friend's greeting, the global commands
(やめる, 戻る, メニュー, ヘルプ, in their usual forms), the menu, and consent to the policy in force.
Only then does the current step judge the input; outside a flow, typed text is a question for the FAQ. Pure Python: the desk behind the `Desk` port does the rest.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from conversations import chat
from conversations import messages as m
from conversations import questions, texts
from conversations.crisis import mentions_crisis
from conversations.desk import Desk
from conversations.flow import Advance, Chose, Ctx, Exit, Finish, Flow, Outcome, Reask, Reply, Said, Start, State, Stay
from conversations.flows import FLOWS
from conversations.inputs import Follow, Postback, Text, Unfollow, Unsupported, UserInput
from conversations.schedule import to_tokyo

REASK_CAP = 3


@dataclass
class Turn:
    messages: list[m.Message]
    flow: str | None
    step: str | None


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _menu_intent(user_input: UserInput) -> str | None:
    if isinstance(user_input, Postback) and user_input.data.startswith("menu:"):
        return user_input.data
    if isinstance(user_input, Text):
        found = texts.menu_intent_for(user_input.text)
        return found or (texts.CHAT if chat.asks_for_person(user_input.text) else None)
    return None


def _command(user_input: UserInput) -> str | None:
    if isinstance(user_input, Postback) and user_input.data.startswith("cmd:"):
        return user_input.data[4:]
    if not isinstance(user_input, Text):
        return None
    return texts.command_for(user_input.text)


class Engine:
    def __init__(self, flows: dict[str, Flow] | None = None) -> None:
        self.flows = flows or FLOWS

    def turn(self, state: State, user_input: UserInput, desk: Desk) -> Turn:
        ctx = Ctx(desk, state)
        messages = self._turn(ctx, user_input)
        return Turn(messages, state.flow, state.step)

    def _turn(self, ctx: Ctx, user_input: UserInput) -> list[m.Message]:
        desk, state = ctx.desk, ctx.state
        now = desk.now()
        if isinstance(user_input, Text) and mentions_crisis(user_input.text, desk.settings.crisis_words):
            desk.flag_crisis()
            state.updated_at = now
            current = desk.current_chat()
            in_chat = current is not None and not current.waiting  # a person reads this now
            hotlines = texts.crisis(desk.settings, desk.chat_open(), in_chat)
            if state.flow and self._flow(ctx).step(state.step).keeps_crisis_text:
                state.answers["attention"] = True  # the text is kept, the counsellor sees it marked
                return [hotlines] + self._answer(ctx, user_input)
            return [hotlines] if in_chat else [hotlines, texts.crisis_then_wait()]
        if isinstance(user_input, Unfollow):
            self._leave(ctx)
            desk.leave_chat()
            return []
        notice = desk.maintenance()
        if notice is not None:
            return [texts.paused(notice)]
        if isinstance(user_input, Postback) and user_input.data.startswith(chat.RATE):
            return chat.rate(desk, user_input.data)
        if not state.flow:  # a flow started during a chat (a booking button the operator sent) keeps its input
            current = desk.current_chat()
            typed = _norm(user_input.text) if isinstance(user_input, Text) else ""
            answer = chat.in_chat(desk, current, user_input, typed) if current is not None else None
            if answer is not None:
                state.updated_at = now
                return answer

        said: list[m.Message] = []
        timeout = timedelta(minutes=desk.settings.flow_timeout_minutes)
        if state.flow and state.updated_at and now - state.updated_at > timeout:
            self._leave(ctx)
            said.append(texts.timed_out(desk.settings.flow_timeout_minutes))
        state.updated_at = now
        agreed = desk.has_agreed(desk.policy().version)

        if isinstance(user_input, Follow):
            self._leave(ctx)
            said.append(texts.greeting(desk.settings, user_input.unblocked))
            return said + (texts.with_menu([]) if agreed else self._start(ctx, "consent"))
        if isinstance(user_input, Unsupported):
            said.append(texts.unsupported())
            return said + (self._ask(ctx) if state.flow else [texts.menu()])

        command = _command(user_input)
        if command is not None:
            return said + self._command(ctx, command)
        intent = _menu_intent(user_input)
        if intent is not None:
            self._leave(ctx)
            return said + self._open(ctx, intent, agreed)
        if not agreed and state.flow != "consent":
            self._leave(ctx)
            return said + self._start(ctx, "consent")
        if state.flow:
            return said + self._answer(ctx, user_input)
        if isinstance(user_input, Postback):
            return said + [texts.stale_choice(), texts.menu()]
        assert isinstance(user_input, Text)
        return said + questions.answer(desk, user_input.text)

    # Global commands and the menu

    def _command(self, ctx: Ctx, command: str) -> list[m.Message]:
        state = ctx.state
        if not state.flow:
            return [texts.general_help()] if command == "help" else [texts.menu()]
        if command == "quit":
            said = self._flow(ctx).quit_text
            self._leave(ctx)
            return texts.with_menu([m.text(said)])
        if command == "menu":
            self._leave(ctx)
            return [texts.menu()]
        if command == "help":
            return [m.text(self._flow(ctx).step(state.step).help)] + self._ask(ctx)
        if state.history:  # back
            state.step = state.history.pop()
            state.reasks = 0
            return self._ask(ctx)
        return [m.text("これより前には戻れません。")] + self._ask(ctx)

    def _open(self, ctx: Ctx, intent: str, agreed: bool) -> list[m.Message]:
        desk = ctx.desk
        if intent == texts.BOOK:
            return self._start(ctx, "booking") if agreed else self._start(ctx, "consent", {"then": "booking"})
        if intent == texts.MY_BOOKINGS:
            return self._start(ctx, "my_bookings")
        if intent == texts.CHAT:
            return chat.ask_for_person(desk) if agreed else self._start(ctx, "consent", {"then": "chat"})
        if intent == texts.POLICY and not agreed:
            return self._start(ctx, "consent")
        if intent == texts.POLICY:
            policy = desk.policy()
            effective = texts.day_label(policy.effective, to_tokyo(desk.now()).date())
            return [m.text(f"利用規約（{effective}施行）に同意いただいています。\n"
                           f"全文：{desk.settings.policy_url}/{policy.version}"), texts.menu()]
        if intent == texts.FAQ:
            return [texts.faq_list(desk.settings, desk.faq_entries())]
        return [texts.stale_choice(), texts.menu()]

    # Flows

    def _flow(self, ctx: Ctx) -> Flow:
        return self.flows[ctx.state.flow]

    def _ask(self, ctx: Ctx) -> list[m.Message]:
        return self._flow(ctx).step(ctx.state.step).ask(ctx)

    def _reset(self, state: State) -> None:
        state.flow = state.step = state.run_id = None
        state.answers, state.history, state.reasks = {}, [], 0

    def _leave(self, ctx: Ctx) -> None:
        if ctx.state.flow:
            self._flow(ctx).on_leave(ctx)
        self._reset(ctx.state)

    def _start(self, ctx: Ctx, name: str, answers: dict | None = None) -> list[m.Message]:
        flow, state = self.flows[name], ctx.state
        self._reset(state)
        state.flow, state.step = name, flow.steps[0].name
        state.run_id, state.answers = secrets.token_hex(3), dict(answers or {})
        refused = flow.guard(ctx)
        if refused is not None:
            return self._apply(ctx, refused)
        return self._ask(ctx)

    def _answer(self, ctx: Ctx, user_input: UserInput) -> list[m.Message]:
        state = ctx.state
        reply: Reply
        if isinstance(user_input, Postback):
            run, _, rest = user_input.data.partition("|")
            step, _, value = rest.partition("|")
            if run != state.run_id or step != state.step:
                return [texts.stale_choice()] + self._ask(ctx)
            reply = Chose(value, dict(user_input.params))
        else:
            assert isinstance(user_input, Text)
            reply = Said(_norm(user_input.text) if len(user_input.text) < 20 else user_input.text)
        return self._apply(ctx, self._flow(ctx).step(state.step).accept(ctx, reply))

    def _apply(self, ctx: Ctx, outcome: Outcome) -> list[m.Message]:
        state = ctx.state
        flow = self._flow(ctx)
        if isinstance(outcome, Advance):
            state.answers.update(outcome.updates)
            state.reasks = 0
            following = outcome.goto or flow.after(state.step)
            if following is None:
                self._reset(state)
                return texts.with_menu(outcome.say)
            state.history.append(state.step)
            state.step = following
            return outcome.say + self._ask(ctx)
        if isinstance(outcome, Reask):
            state.reasks += 1
            if state.reasks >= REASK_CAP:
                state.reasks = 0
                return [m.text(outcome.message), texts.reask_cap(ctx.desk.settings)]
            step = flow.step(state.step)
            if step.reask_with_question:
                return [m.text(outcome.message)] + self._ask(ctx)
            return [m.text(outcome.message, texts.NAV)]
        if isinstance(outcome, Stay):
            return outcome.say + self._ask(ctx)
        if isinstance(outcome, Finish):
            self._reset(state)
            return texts.with_menu(outcome.say)
        if isinstance(outcome, Exit):
            self._leave(ctx)
            return texts.with_menu(outcome.say)
        if isinstance(outcome, Start):
            return outcome.say + self._start(ctx, outcome.flow)
        raise TypeError(f"unknown outcome {outcome!r}")

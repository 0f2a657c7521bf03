"""The booking's optional question about who attends with the user, asked after the consultation:
an interpreter, a sign-language interpreter or an assistant. The counsellor sees the answer in the
console (never in the Teams invite); erasure and the retention purge blank it with the other details."""

from __future__ import annotations

from conversations import messages as m
from conversations.flow import Advance, Chose, Ctx, Outcome, Reask, Reply, Step

# Stored key -> what the user and the counsellor read.
ATTENDANTS = {"none": "なし", "interpreter": "通訳の方", "sign_language": "手話通訳の方", "assistant": "介助・付き添いの方"}


def label(key: str | None) -> str:
    return ATTENDANTS.get(key or "none", ATTENDANTS["none"])


def ask(ctx: Ctx) -> list[m.Message]:
    return [m.text("当日、ご一緒に参加される方はいますか？（任意です。いなければ「なし」を選んでください）",
                   [ctx.button(text, "attendant", key, text) for key, text in ATTENDANTS.items()]
                   + [m.message_action("戻る"), m.message_action("やめる")])]


def judge(ctx: Ctx, reply: Reply, back_to_summary) -> Outcome:
    key = reply.value if isinstance(reply, Chose) else next(
        (k for k, text in ATTENDANTS.items() if reply.text in (text, text.removesuffix("の方"))), None)
    if key not in ATTENDANTS:
        return Reask("ご一緒に参加される方を、ボタンからお選びください（いなければ「なし」）。")
    return Advance({"attendant": key}, goto=back_to_summary(ctx))


def step(back_to_summary) -> Step:
    return Step("attendant", ask, lambda ctx, reply: judge(ctx, reply, back_to_summary),
                "通訳の方や付き添いの方が一緒に参加される場合はお選びください。いなければ「なし」です。",
                reask_with_question=True)

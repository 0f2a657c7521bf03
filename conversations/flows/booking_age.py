"""The booking's age step, asked right after the topic and before the date and time.

Someone the desk cannot serve is told at once, kindly, where else to go, before any slot is held
and before any other personal question: a younger person to their school or the children's
helpline (`under_age_contact`), an older one to Hello Work (`over_age_contact`).
"""

from __future__ import annotations

from conversations import messages as m
from conversations import validators as v
from conversations.desk import DeskSettings
from conversations.flow import Advance, Ctx, Exit, Outcome, Reask, Reply, Said, Step
from conversations.texts import NAV


def referral(settings: DeskSettings, too_old: bool) -> str:
    scope = f"申し訳ありません。この窓口は{settings.age_min}歳から{settings.age_max}歳までの方を対象としています。"
    if too_old:
        return (scope + f"\nお仕事や転職のご相談は、{settings.over_age_contact}でお受けしています。"
                "どうぞそちらをご利用ください。")
    return (scope + "\n進路やお仕事のことは、まず学校の先生やスクールカウンセラーに相談してみてください。"
            f"つらいときや誰かに話を聞いてほしいときは、{settings.under_age_contact}にいつでも電話できます。")


def ask_age(ctx: Ctx) -> list[m.Message]:
    return [m.text("年齢をご入力ください（例：25）。", NAV)]


def judge_age(ctx: Ctx, reply: Reply, back_to_summary) -> Outcome:
    if not isinstance(reply, Said):
        return Reask("文字で入力してください。")
    s = ctx.desk.settings
    result = v.age(reply.text, s.age_min, s.age_max)
    if isinstance(result, v.Invalid):
        return Reask(result.reask)
    if isinstance(result, v.Ineligible):
        return Exit([m.text(referral(s, result.too_old))])
    return Advance({"age": result.value}, goto=back_to_summary(ctx))


def step(back_to_summary) -> Step:
    return Step("age", ask_age, lambda ctx, reply: judge_age(ctx, reply, back_to_summary),
                "年齢を数字でご入力ください（例：25）。")

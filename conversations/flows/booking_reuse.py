"""The booking's offer to a returning user, asked after the time is held and before the name:
前回と同じ内容で入力 fills the name, reading, e-mail and phone of their last booking (shown here to
check, and editable from the summary); 新しく入力する asks them one by one. Offered only when the desk
still has them: erasure (and the retention purge) blank them on the bookings they came from."""

from __future__ import annotations

from conversations import messages as m
from conversations import validators as v
from conversations.flow import Advance, Chose, Ctx, Outcome, Reask, Reply, Step


def ask_reuse(ctx: Ctx) -> list[m.Message]:
    before = ctx.desk.previous_details()
    if before is None:  # erased since the offer was decided: ask for each detail
        return [m.text("お名前などを伺います。", [ctx.button("入力を始める", "reuse", "new", "入力を始める")])]
    return [m.text("前回のご予約の内容です。\n"
                   f"お名前：{before.name}\nフリガナ：{before.furigana}\n"
                   f"メール：{before.email}\n電話：{v.format_phone(before.phone)}\n\n"
                   "同じ内容で入力しますか？（あとの確認画面で修正もできます）",
                   [ctx.button("前回と同じ内容で入力", "reuse", "same", "前回と同じ内容で入力"),
                    ctx.button("新しく入力する", "reuse", "new", "新しく入力する"),
                    m.message_action("戻る"), m.message_action("やめる")])]


def judge_reuse(ctx: Ctx, reply: Reply) -> Outcome:
    value = reply.value if isinstance(reply, Chose) else {
        "前回と同じ内容で入力": "same", "新しく入力する": "new"}.get(reply.text)
    if value == "new":
        return Advance(goto="name")
    if value != "same":
        return Reask("「前回と同じ内容で入力」か「新しく入力する」をお選びください。")
    before = ctx.desk.previous_details()
    if before is None:
        return Advance(goto="name")
    return Advance({"name": before.name, "furigana": before.furigana, "email": before.email, "phone": before.phone},
                   goto="consultation")


STEP = Step("reuse", ask_reuse, judge_reuse, "前回と同じお名前・連絡先を使う場合は「前回と同じ内容で入力」を押してください。",
            reask_with_question=True)

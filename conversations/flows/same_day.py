"""予約の確認 → 遅れる・参加できない, on the day of a session: the user says how late they will be, or
that they cannot come. It is recorded on the booking and the counsellor is alerted; the user is told
what happens next. Cancelling on the day is by phone, as the seeds say, unless the desk allows it
on LINE (`same_day_cancel_on_line`). Steps of the my_bookings flow, in order."""

from __future__ import annotations

import re
import unicodedata

from conversations import messages as m
from conversations.desk import BookingView
from conversations.flow import Advance, Chose, Ctx, Finish, Outcome, Reask, Reply, Step
from conversations.schedule import label_slot

DAY = "day:"
LATE_CHOICES = (5, 10, 15, 20, 30)
LATE_MAX = 120


def start(ctx: Ctx, booking: BookingView) -> Outcome:
    if not booking.today:
        return Finish([m.text("このご連絡は、ご相談の当日にお受けしています。")])
    return Advance({"reference": booking.reference, "label": label_slot(booking.slot, ctx.desk.settings.rules)},
                   goto="day_what")


def ask_what(ctx: Ctx) -> list[m.Message]:
    return [m.text(f"{ctx.answers['label']} のご相談について、お知らせください。",
                   [ctx.button("遅れる", "day_what", "late"), ctx.button("参加できない", "day_what", "absent"),
                    m.message_action("戻る"), m.message_action("やめる")])]


def choose_what(ctx: Ctx, reply: Reply) -> Outcome:
    value = reply.value if isinstance(reply, Chose) else {"遅れる": "late", "参加できない": "absent"}.get(reply.text)
    if value == "late":
        return Advance(goto="day_late")
    if value == "absent":
        return Advance(goto="day_absent")
    return Reask("「遅れる」または「参加できない」をお選びください。")


def ask_late(ctx: Ctx) -> list[m.Message]:
    return [m.text("どのくらい遅れそうですか？（ボタンから選ぶか、「15」のように分で入力してください）",
                   [ctx.button(f"{n}分", "day_late", str(n), f"{n}分ほど遅れます") for n in LATE_CHOICES]
                   + [m.message_action("戻る"), m.message_action("やめる")])]


def _minutes(text: str) -> int | None:
    match = re.fullmatch(r"(?:約|だいたい)?([0-9]{1,3})分?(?:くらい|ほど|程度)?", "".join(unicodedata.normalize("NFKC", text).split()))
    if not match:
        return None
    minutes = int(match.group(1))
    return minutes if 1 <= minutes <= LATE_MAX else None


def choose_late(ctx: Ctx, reply: Reply) -> Outcome:
    minutes = _minutes(reply.value if isinstance(reply, Chose) else reply.text)
    if minutes is None:
        return Reask("遅れる時間を、ボタンから選ぶか「15」のように分で入力してください。")
    reported = ctx.desk.report_late(ctx.answers["reference"], minutes)
    if reported is None:
        return Finish([m.text("本日のご予約が見つかりませんでした。お手数ですが、お電話でご連絡ください。" + _phone(ctx))])
    s = ctx.desk.settings
    return Finish([m.text(
        f"ご連絡ありがとうございます。{minutes}分ほど遅れることを、相談員に伝えました。\n"
        "ご準備ができしだい、お送りしている参加用リンクからご参加ください。"
        f"終了時刻は変わりませんので、ご了承ください。\n"
        f"予定より遅れそうな場合は、お電話（{s.phone}）でご連絡ください。")])


def _phone(ctx: Ctx) -> str:
    s = ctx.desk.settings
    return f"（{s.phone}、{s.phone_hours}）"


def ask_absent(ctx: Ctx) -> list[m.Message]:
    cancel = ctx.desk.settings.same_day_cancel_on_line
    question = (f"{ctx.answers['label']} のご予約をキャンセルしますか？" if cancel
                else f"{ctx.answers['label']} のご相談に参加できないことを、相談員に伝えますか？")
    return [m.confirm("当日のご連絡の確認", question, ctx.button("はい", "day_absent", "yes", "はい"),
                      ctx.button("いいえ", "day_absent", "no", "いいえ"))]


def judge_absent(ctx: Ctx, reply: Reply) -> Outcome:
    value = reply.value if isinstance(reply, Chose) else {"はい": "yes", "いいえ": "no"}.get(reply.text)
    if value == "no":
        return Finish([m.text("承知しました。ご予約はそのままです。")])
    if value != "yes":
        return Reask("「はい」または「いいえ」をお選びください。")
    reported = ctx.desk.report_absent(ctx.answers["reference"])
    if reported is None:
        return Finish([m.text("本日のご予約が見つかりませんでした。お手数ですが、お電話でご連絡ください。" + _phone(ctx))])
    if ctx.desk.settings.same_day_cancel_on_line:
        return Finish([m.text(f"{ctx.answers['label']} のご予約をキャンセルし、相談員にもお伝えしました。"
                              "またのご利用をお待ちしています。")])
    return Finish([m.text(
        "ご連絡ありがとうございます。参加できないことを相談員に伝えました。\n"
        f"当日のキャンセルはお電話でお受けしています。お手数ですが、窓口{_phone(ctx)}までお電話ください。"
        "お電話がない場合、ご予約は欠席として扱われることがあります。")])


STEPS = (
    Step("day_what", ask_what, choose_what, "「遅れる」か「参加できない」をお選びください。", reask_with_question=True),
    Step("day_late", ask_late, choose_late, "遅れる時間を、ボタンから選ぶか「15」のように分で入力してください。",
         reask_with_question=True),
    Step("day_absent", ask_absent, judge_absent, "「はい」で相談員にお伝えします。", reask_with_question=True),
)

"""予約の確認 → 日時を変更: move a booking to another date and time, under the booking's rules.

Steps of the my_bookings flow, in order: the new date, the new time (held as in a new booking),
then a confirmation. The cut-off applies to both slots: the current one must still be before its
day's booking cut-off, the new one must be bookable. The booking keeps its reference and its
Teams meeting (moved, not made again); the hold is let go if the user leaves.
"""

from __future__ import annotations

from datetime import date, datetime

from conversations import messages as m
from conversations.desk import BookingView, SlotLost
from conversations.flow import Advance, Chose, Ctx, Finish, Outcome, Reask, Reply, Stay, Step
from conversations.flows import booking_cards as cards
from conversations.schedule import label_date, label_slot, to_tokyo
from conversations.when import parse_day, parse_time

MOVE = "move:"


def _phone(ctx: Ctx) -> str:
    s = ctx.desk.settings
    return f"日時の変更はお電話（{s.phone}、{s.phone_hours}）でお願いします。"


def start(ctx: Ctx, booking: BookingView) -> Outcome:
    """From the list: the user tapped 日時を変更 on `booking`."""
    if not booking.reschedulable:
        return Finish([m.text("この予約は、LINEから日時を変更できる期限を過ぎています。\n" + _phone(ctx))])
    rules = ctx.desk.settings.rules
    return Advance({"reference": booking.reference, "topic": booking.topic,
                    "label": label_slot(booking.slot, rules)}, goto="move_date")


def _days(ctx: Ctx) -> list[date]:
    return ctx.desk.free_days(ctx.answers["topic"])


def ask_date(ctx: Ctx) -> list[m.Message]:
    days = _days(ctx)
    if not days:
        return [m.text("申し訳ありません。現在、変更先としてお選びいただける日がありません。\n" + _phone(ctx),
                       [m.message_action("戻る"), m.message_action("メニュー")])]
    buttons = [ctx.button(f"{d.month}/{d.day}({label_date(d)[-2]})", "move_date", d.isoformat(), label_date(d))
               for d in days[:10]]
    picker = m.datetime_picker("カレンダーから選ぶ", ctx.data("move_date", "picker"), "date",
                               initial=days[0].isoformat(), min=days[0].isoformat(), max=days[-1].isoformat())
    return [m.text(f"現在のご予約：{ctx.answers['label']}\n変更先の日をお選びください。",
                   buttons + [picker, m.message_action("戻る"), m.message_action("やめる")])]


def choose_date(ctx: Ctx, reply: Reply) -> Outcome:
    day: date | None
    if isinstance(reply, Chose):
        try:
            day = date.fromisoformat(reply.params.get("date") or reply.value)
        except ValueError:
            day = None
    else:
        day = parse_day(reply.text, to_tokyo(ctx.desk.now()).date())
    if day is None:
        return Reask("日付は、ボタンから選ぶか「12/1」のように入力してください。")
    if day not in _days(ctx):
        return Reask(f"{label_date(day)}はご予約いただけません。表示された日からお選びください。")
    return Advance({"date": day.isoformat()})


def ask_time(ctx: Ctx) -> list[m.Message]:
    day = date.fromisoformat(ctx.answers["date"])
    slots = ctx.desk.free_slots(ctx.answers["topic"], day)
    return [cards.time_grid(ctx, day, slots, ctx.desk.settings.rules, step="move_time"),
            m.text("変更先の時間をお選びください。", [m.message_action("戻る"), m.message_action("やめる")])]


def choose_time(ctx: Ctx, reply: Reply) -> Outcome:
    desk, topic = ctx.desk, ctx.answers["topic"]
    free = desk.free_slots(topic, date.fromisoformat(ctx.answers["date"]))
    taken = Stay([m.text("申し訳ありません。その時間はちょうど埋まりました。別の時間をお選びください。")])
    if isinstance(reply, Chose):
        slot = next((s for s in free if s.isoformat() == reply.value), None)
        if slot is None:
            return taken
    else:
        wanted = parse_time(reply.text)
        slot = next((s for s in free if wanted and to_tokyo(s).time() == wanted), None)
        if slot is None:
            return Reask("時間は、表示されたボタンから選ぶか「10:00」のように入力してください。")
    if desk.hold(topic, slot) is None:
        return taken
    return Advance({"slot": slot.isoformat()})


def ask_sure(ctx: Ctx) -> list[m.Message]:
    rules = ctx.desk.settings.rules
    new = label_slot(datetime.fromisoformat(ctx.answers["slot"]), rules)
    return [m.confirm("日時の変更の確認", f"{ctx.answers['label']}\n↓\n{new}\nに変更しますか？",
                      ctx.button("はい", "move_sure", "yes", "変更する"),
                      ctx.button("いいえ", "move_sure", "no", "変更しない"))]


def judge_sure(ctx: Ctx, reply: Reply) -> Outcome:
    value = reply.value if isinstance(reply, Chose) else {"はい": "yes", "いいえ": "no"}.get(reply.text)
    if value == "no":
        ctx.desk.release_hold()
        return Finish([m.text(f"変更を取りやめました。ご予約は {ctx.answers['label']} のままです。")])
    if value != "yes":
        return Reask("「はい」または「いいえ」をお選びください。")
    moved = ctx.desk.reschedule(ctx.answers["reference"], datetime.fromisoformat(ctx.answers["slot"]))
    if moved is None:
        ctx.desk.release_hold()
        return Finish([m.text("この予約は、LINEから日時を変更できる期限を過ぎたか、すでに変更・キャンセルされています。\n"
                              + _phone(ctx))])
    if isinstance(moved, SlotLost):
        return Advance(goto="move_date", say=[m.text(
            "申し訳ありません。その時間は埋まってしまいました。ご予約は元の日時のままです。別の日時をお選びください。")])
    rules = ctx.desk.settings.rules
    return Finish([m.text(
        f"ご予約の日時を変更しました。\n新しい日時：{label_slot(moved.slot, rules)}\nテーマ：{moved.topic}\n"
        f"予約番号：{moved.reference}\n\n"
        "Microsoft Teamsの参加用リンクは変わりません（まだお送りしていない場合は、あらためてお送りします）。\n\n"
        f"{cards.late_rule(ctx.desk.settings)}")])


STEPS = (
    Step("move_date", ask_date, choose_date, "変更先の日をボタンから選ぶか、「12/1」のように入力してください。",
         reask_with_question=True),
    Step("move_time", ask_time, choose_time, "変更先の時間をボタンから選ぶか、「10:00」のように入力してください。",
         reask_with_question=True),
    Step("move_sure", ask_sure, judge_sure, "「はい」で変更、「いいえ」で元の日時のままになります。", reask_with_question=True),
)

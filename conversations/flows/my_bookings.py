"""予約の確認・キャンセル: the user's active bookings, self-service cancellation until the day before, and
a change of date and time until the booking cut-off (flows/reschedule.py)."""

from __future__ import annotations

from conversations import messages as m
from conversations.flow import Advance, Chose, Ctx, Finish, Flow, Outcome, Reask, Reply, Step
from conversations.flows import reschedule, same_day
from conversations.schedule import label_slot


def _phone_only(ctx: Ctx) -> str:
    s = ctx.desk.settings
    return f"当日のキャンセル・変更はお電話（{s.phone}、{s.phone_hours}）でお願いします。"


def listed(ctx: Ctx) -> list:
    """The upcoming bookings, and today's sessions already under way (for 遅れる・参加できない)."""
    upcoming = ctx.desk.active_bookings()
    known = {b.reference for b in upcoming}
    return [b for b in ctx.desk.todays_bookings() if b.reference not in known] + upcoming


def guard(ctx: Ctx) -> Outcome | None:
    if not listed(ctx):
        return Finish([m.text("現在、ご予約はありません。")])
    return None


def ask_which(ctx: Ctx) -> list[m.Message]:
    bubbles = []
    for booking in listed(ctx):
        footer = (
            [{"type": "button", "style": "secondary", "action": ctx.button("キャンセルする", "list", booking.reference,
                                                                          "この予約をキャンセルする")}]
            if booking.self_cancellable
            else [{"type": "text", "text": _phone_only(ctx), "wrap": True, "size": "xs"}]
        )
        if booking.today:
            footer.insert(0, {"type": "button", "style": "primary", "action": ctx.button(
                "遅れる・参加できない", "list", same_day.DAY + booking.reference, "遅れる・参加できない")})
        if booking.reschedulable:
            footer.insert(0, {"type": "button", "style": "secondary", "action": ctx.button(
                "日時を変更", "list", reschedule.MOVE + booking.reference, "この予約の日時を変更する")})
        bubbles.append({
            "type": "bubble",
            "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
                {"type": "text", "text": label_slot(booking.slot, ctx.desk.settings.rules), "weight": "bold", "wrap": True},
                {"type": "text", "text": f"テーマ：{booking.topic}", "size": "sm", "wrap": True},
                {"type": "text", "text": f"予約番号：{booking.reference}", "size": "xs", "color": "#888888"},
            ]},
            "footer": {"type": "box", "layout": "vertical", "contents": footer},
        })
    contents = bubbles[0] if len(bubbles) == 1 else {"type": "carousel", "contents": bubbles[:12]}
    return [m.text("ご予約の内容です。", [m.message_action("メニュー")]), m.flex("ご予約の一覧", contents)]


def choose_booking(ctx: Ctx, reply: Reply) -> Outcome:
    if not isinstance(reply, Chose):
        return Reask("キャンセルする予約を、ボタンからお選びください。")
    moving, on_the_day = reply.value.startswith(reschedule.MOVE), reply.value.startswith(same_day.DAY)
    reference = reply.value.removeprefix(reschedule.MOVE).removeprefix(same_day.DAY)
    booking = next((b for b in listed(ctx) if b.reference == reference), None)
    if booking is None:
        return Finish([m.text("その予約はすでにキャンセルされているか、終了しています。")])
    if moving:
        return reschedule.start(ctx, booking)
    if on_the_day:
        return same_day.start(ctx, booking)
    if not booking.self_cancellable:
        return Finish([m.text(_phone_only(ctx))])
    return Advance({"reference": booking.reference, "label": label_slot(booking.slot, ctx.desk.settings.rules)})


def ask_sure(ctx: Ctx) -> list[m.Message]:
    return [m.confirm("予約のキャンセルの確認", f"{ctx.answers['label']} の予約をキャンセルしますか？",
                      ctx.button("はい", "sure", "yes", "キャンセルする"),
                      ctx.button("いいえ", "sure", "no", "キャンセルしない"))]


def judge_sure(ctx: Ctx, reply: Reply) -> Outcome:
    value = reply.value if isinstance(reply, Chose) else {"はい": "yes", "いいえ": "no"}.get(reply.text)
    if value == "no":
        return Finish([m.text("キャンセルを取りやめました。ご予約はそのままです。")])
    if value != "yes":
        return Reask("「はい」または「いいえ」をお選びください。")
    cancelled = ctx.desk.cancel(ctx.answers["reference"])
    if cancelled is None:
        return Finish([m.text("この予約は、すでにキャンセルできない時期になっています。\n" + _phone_only(ctx))])
    return Finish([m.text(f"{ctx.answers['label']} の予約をキャンセルしました。またのご利用をお待ちしています。")])


def release(ctx: Ctx) -> None:
    ctx.desk.release_hold()  # a new time held for a change of date and time


MY_BOOKINGS = Flow(
    name="my_bookings",
    guard=guard,
    # 「キャンセル」 typed here quits this screen: say plainly that no booking was cancelled.
    quit_text="予約の確認を終わりました。ご予約はキャンセルしていません（そのままです）。\n"
              "キャンセルするときは、予約の「キャンセルする」ボタンを押してください。",
    on_leave=release,
    steps=(
        Step("list", ask_which, choose_booking, help="キャンセルする予約の「キャンセルする」、日時を変える予約の「日時を変更」ボタンを押してください。",
             reask_with_question=True),
        Step("sure", ask_sure, judge_sure, help="「はい」でキャンセル、「いいえ」でそのままになります。",
             reask_with_question=True),
        *reschedule.STEPS,
        *same_day.STEPS,
    ),
)

"""The Flex cards of the booking flow: the time grid, the summary to confirm, the confirmation."""

from __future__ import annotations

from datetime import date, datetime

from conversations import messages as m
from conversations import validators as v
from conversations.desk import BookingView, DeskSettings
from conversations.flow import Ctx
from conversations.flows.booking_attendant import label as attendant_label
from conversations.schedule import BookingRules, label_date, label_slot, to_tokyo

PREPARE = ("・周りに人がいない、静かな個室からご参加ください。\n"
           "・Microsoft Teamsのアプリを入れ、最新の状態にしておいてください。\n"
           "・事前に一度アプリを起動し、音声とカメラが使えるか試しておいてください。\n"
           "・相談の録音・録画・配信はご遠慮ください。\n"
           "・通信料はご利用者のご負担となります。Wi-Fiなど通信量を気にせず使える環境をおすすめします。")


def late_rule(settings: DeskSettings) -> str:
    """The seeds' 10-minute rule, as users read it (the minutes from the settings)."""
    return (f"開始時刻から{settings.late_minutes}分を過ぎてもご参加が確認できない場合は、"
            "ご欠席（不参加）として扱います。遅れる場合やご参加できなくなった場合は、当日、メニューの"
            "「予約の確認・キャンセル」からお早めにお知らせください。")


def _row(label: str, value: str) -> dict:
    return {"type": "box", "layout": "baseline", "spacing": "sm", "contents": [
        {"type": "text", "text": label, "size": "sm", "color": "#888888", "flex": 3},
        {"type": "text", "text": value or "-", "size": "sm", "wrap": True, "flex": 7},
    ]}


def time_grid(ctx: Ctx, day: date, slots: list[datetime], rules: BookingRules, step: str = "time") -> m.Message:
    rows = []
    for i in range(0, len(slots), 3):
        rows.append({"type": "box", "layout": "horizontal", "spacing": "sm", "contents": [
            {"type": "button", "style": "secondary", "height": "sm",
             "action": ctx.button(f"{to_tokyo(s):%H:%M}", step, s.isoformat(), label_slot(s, rules))}
            for s in slots[i:i + 3]
        ]})
    bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
        {"type": "text", "text": f"{label_date(day)} の空き時間", "weight": "bold"},
        {"type": "text", "text": f"1回{rules.session_minutes}分です。", "size": "xs", "color": "#888888"},
        *rows,
    ]}}
    return m.flex(f"{label_date(day)} の空き時間", bubble)


def summary(ctx: Ctx, rules: BookingRules) -> m.Message:
    a = ctx.answers
    bubble = {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": "ご予約内容の確認", "weight": "bold"}]},
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
            _row("日時", label_slot(datetime.fromisoformat(a["slot"]), rules)),
            _row("テーマ", a["topic"]),
            _row("お名前", a["name"]),
            _row("フリガナ", a["furigana"]),
            _row("年齢", f"{a['age']}歳"),
            _row("メール", a["email"]),
            _row("電話", v.format_phone(a["phone"])),
            _row("ご相談内容", a["consultation"]),
            _row("同席者", attendant_label(a.get("attendant"))),
        ]},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
            {"type": "button", "style": "primary", "action": ctx.button("確定", "summary", "confirm", "確定する")},
            {"type": "button", "style": "secondary", "action": ctx.button("修正", "summary", "edit", "修正する")},
            {"type": "button", "style": "link", "action": m.message_action("やめる")},
        ]},
    }
    return m.flex("ご予約内容の確認", bubble)


def confirmation(ctx: Ctx, booking: BookingView) -> list[m.Message]:
    s = ctx.desk.settings
    return [m.text(
        f"ご予約が確定しました。\n日時：{label_slot(booking.slot, s.rules)}\nテーマ：{booking.topic}\n"
        f"予約番号：{booking.reference}\n\n"
        "Microsoft Teamsの参加用リンクは、あらためてこのLINEでお送りします。\n\n"
        f"当日までのご準備\n{PREPARE}\n\n{late_rule(s)}\n\n"
        "キャンセルは前日まで、メニューの「予約の確認・キャンセル」からできます。"
        f"当日はお電話（{s.phone}）でお願いします。"
        + (f"\n\n予定に追加（カレンダー用ファイル）：\n{booking.calendar_url}" if booking.calendar_url else ""))]

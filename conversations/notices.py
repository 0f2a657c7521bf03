"""Messages the desk sends on its own initiative: the Teams link, reminders, and changes to a booking."""

from __future__ import annotations

from datetime import datetime

from conversations import messages as m
from conversations.desk import DeskSettings
from conversations.flows.booking_cards import PREPARE, late_rule
from conversations.schedule import label_slot, to_tokyo
from conversations.texts import with_menu


def join_link(settings: DeskSettings, slot: datetime, topic: str, join_url: str, heading: str,
              late: bool = False) -> m.Message:
    bubble = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": [
            {"type": "text", "text": heading, "weight": "bold", "wrap": True},
            {"type": "text", "text": label_slot(slot, settings.rules), "wrap": True},
            {"type": "text", "text": f"テーマ：{topic}", "size": "sm", "wrap": True},
            {"type": "separator"},
            {"type": "text", "text": "ご準備", "size": "sm", "weight": "bold"},
            {"type": "text", "text": PREPARE, "size": "xs", "wrap": True},
            *([{"type": "text", "text": late_rule(settings), "size": "xs", "wrap": True, "weight": "bold"}]
              if late else []),
        ]},
        "footer": {"type": "box", "layout": "vertical", "contents": [
            {"type": "button", "style": "primary", "action": m.uri_action("Teamsで参加する", join_url)},
        ]},
    }
    return m.flex(f"{heading} {label_slot(slot, settings.rules)}", bubble)


def link_ready(settings: DeskSettings, slot: datetime, topic: str, join_url: str) -> list[m.Message]:
    return with_menu([join_link(settings, slot, topic, join_url, "ご相談の参加用リンクをお送りします"),
                      m.text("当日は開始時刻になりましたら、上の「Teamsで参加する」からご参加ください。")])


def link_delayed(settings: DeskSettings, slot: datetime) -> list[m.Message]:
    return with_menu([m.text(f"{label_slot(slot, settings.rules)} のご相談の参加用リンクの準備に時間がかかっています。"
                             "準備ができしだいお送りします。お急ぎの場合はお電話"
                             f"（{settings.phone}、{settings.phone_hours}）でお問い合わせください。")])


def reminder(settings: DeskSettings, slot: datetime, topic: str, join_url: str | None, when: str) -> list[m.Message]:
    heading = "明日はご相談の日です" if when == "day_before" else "まもなくご相談の時間です"
    # An hour before, the checklist and the 10-minute rule once more, whether or not the link is ready.
    late = when == "hour_before"
    if join_url:
        return [join_link(settings, slot, topic, join_url, heading, late)]
    text = f"{heading}\n{label_slot(slot, settings.rules)}\n参加用リンクは準備ができしだいお送りします。"
    if late:
        text += f"\n\nご準備\n{PREPARE}\n\n{late_rule(settings)}"
    return [m.text(text)]


def cancelled_by_desk(settings: DeskSettings, slot: datetime) -> list[m.Message]:
    return with_menu([m.text(f"{label_slot(slot, settings.rules)} のご予約は、窓口の都合によりキャンセルとなりました。"
                             f"申し訳ありません。お問い合わせはお電話（{settings.phone}）までお願いします。")])


def cancelled_on_request(settings: DeskSettings, slot: datetime, in_person: bool) -> list[m.Message]:
    """Staff cancelled because the user asked them (by phone or at the desk)."""
    asked = "窓口でお申し出いただいた" if in_person else "お電話でご連絡いただいた"
    return with_menu([m.text(f"{asked}とおり、{label_slot(slot, settings.rules)} のご予約をキャンセルしました。"
                             "またのご利用をお待ちしています。")])


def _until(until: datetime | None) -> str:
    if until is None:
        return ""
    day = to_tokyo(until).date()
    return f"\n{day.year}年{day.month}月{day.day}日からは、ふたたびLINEでご予約いただけます。"


def no_show_noticed(settings: DeskSettings, slot: datetime) -> list[m.Message]:
    """After a no-show that does not (yet) restrict: kind, and says what repeated ones lead to."""
    return with_menu([m.text(
        f"{label_slot(slot, settings.rules)} のご相談は、ご参加が確認できなかったため終了しました。"
        "ご都合が合わなかったのかもしれませんね。またご相談したくなったときは、いつでもご予約ください。\n"
        "なお、ご連絡なくご参加いただけないことが続くと、LINEからのご予約をしばらくお受けできなくなる場合があります。"
        "ご都合が悪くなったときは、「予約の確認・キャンセル」からお知らせください。")])


def restricted_after_no_shows(settings: DeskSettings, count: int, until: datetime | None = None) -> list[m.Message]:
    return [m.text(f"ご予約の時間にご参加いただけないことが{count}回ありました。"
                   "そのため、LINEからのご予約を一時お受けできなくなっています。"
                   f"ご相談を希望される場合は、お電話（{settings.phone}、{settings.phone_hours}）でご連絡ください。"
                   + _until(until))]


def restricted_by_desk(settings: DeskSettings, until: datetime | None = None) -> list[m.Message]:
    """An operator restricted booking. The operator's reason is internal and is not quoted."""
    return [m.text("窓口の判断により、LINEからのご予約を一時お受けできなくなりました。"
                   "ご不便をおかけして申し訳ありません。"
                   f"ご相談やお問い合わせは、お電話（{settings.phone}、{settings.phone_hours}）でお受けしています。"
                   + _until(until))]


def restriction_lifted(settings: DeskSettings) -> list[m.Message]:
    return with_menu([m.text("LINEからのご予約を、再びお受けできるようになりました。"
                             "ご相談を希望される場合は、メニューの「相談を予約する」からお申し込みください。")])

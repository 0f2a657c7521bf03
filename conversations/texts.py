"""What the bot says outside any one step: greetings, the menu, global commands, safety, pauses."""

from __future__ import annotations

from conversations import messages as m
from conversations.desk import DeskSettings, Maintenance

BOOK, MY_BOOKINGS, POLICY, FAQ = "menu:book", "menu:bookings", "menu:policy", "menu:faq"
CHAT = "menu:chat"  # a chat with a counsellor
MENU_ITEMS = (
    ("相談を予約する", BOOK),
    ("予約の確認・キャンセル", MY_BOOKINGS),
    ("チャット相談", CHAT),
    ("利用規約", POLICY),
    ("よくある質問・お問い合わせ", FAQ),
)
# Typed words that mean the same as a menu button.
MENU_WORDS = {
    BOOK: ("相談を予約する", "予約する", "予約", "相談予約", "予約したい"),
    MY_BOOKINGS: ("予約の確認・キャンセル", "予約の確認", "予約確認", "予約をキャンセル", "予約キャンセル"),
    CHAT: ("チャット相談",),
    POLICY: ("利用規約", "運用ポリシー", "規約"),
    FAQ: ("よくある質問・お問い合わせ", "よくある質問", "お問い合わせ", "問い合わせ"),
}
QUIT_WORDS = ("やめる", "キャンセル", "中止")
BACK_WORDS = ("戻る",)
MENU_COMMAND_WORDS = ("メニュー", "最初から")
HELP_WORDS = ("ヘルプ",)

NAV = [m.message_action("戻る"), m.message_action("やめる")]


def menu(body: str = "ご用件をお選びください。") -> m.Message:
    return m.text(body, [m.postback_action(label, data, label) for label, data in MENU_ITEMS])


def with_menu(messages: list[m.Message]) -> list[m.Message]:
    """Attach the menu to the last message, so the user always has a way on."""
    if not messages:
        return [menu()]
    last = messages[-1]
    if last.get("type") == "text" and "quickReply" not in last:
        return messages[:-1] + [m.text(last["text"], [m.postback_action(label, data, label)
                                                      for label, data in MENU_ITEMS])]
    return messages + [menu()]


def greeting(settings: DeskSettings, unblocked: bool) -> m.Message:
    first = "おかえりなさい。" if unblocked else "友だち追加ありがとうございます。"
    return m.text(f"{first}\n{settings.desk_name}は、働く若い方のキャリアや収入のご相談を、"
                  "専門の相談員がオンライン（Microsoft Teams）でお受けする窓口です。")


def crisis(settings: DeskSettings) -> list[m.Message]:
    lines = "\n".join(f"・{h}" for h in settings.hotlines)
    return [m.text("つらいお気持ちを伝えてくださり、ありがとうございます。\n"
                   f"今すぐ話を聴いてもらえる窓口があります。\n{lines}\n"
                   f"窓口の電話（{settings.phone}、{settings.phone_hours}）でもお話を伺います。"),
            m.text("ご相談の続きは、落ち着いたときにいつでも送ってください。")]


def paused(notice: Maintenance) -> m.Message:
    until = f"\n再開予定：{notice.until}" if notice.until else ""
    return m.text(f"ただいまサービスを一時停止しています。\n{notice.notice}{until}")


def timed_out(minutes: int) -> m.Message:
    return m.text(f"前回の操作から{minutes}分以上経ったため、入力途中の内容は破棄しました。")


def quit_done() -> m.Message:
    return m.text("中止しました。入力途中の内容は保存していません。")


def stale_choice() -> m.Message:
    return m.text("その選択肢は現在ご利用いただけません。")


def reask_cap(settings: DeskSettings) -> m.Message:
    return m.text("うまく受け付けられず、申し訳ありません。\n"
                  f"お電話（{settings.phone}、{settings.phone_hours}）でも予約を承ります。\n"
                  "入力のしかたは「ヘルプ」、中止は「やめる」を送ってください。",
                  [m.message_action("ヘルプ"), m.message_action("やめる"), m.message_action("メニュー")])


def general_help() -> m.Message:
    return menu("メニューからご用件をお選びください。入力中はいつでも「戻る」「やめる」「メニュー」「ヘルプ」が使えます。")


def unsupported() -> m.Message:
    return m.text("申し訳ありません。文字のメッセージとボタンの操作のみ受け付けています。")


def faq(settings: DeskSettings) -> m.Message:
    return m.text(
        "よくある質問\n"
        "Q. 相談にお金はかかりますか？\nA. 無料です（通信料はご負担ください）。\n"
        "Q. どのように相談しますか？\nA. 予約の時間にMicrosoft Teamsで相談員とお話しします。参加用のリンクはLINEでお送りします。\n"
        "Q. 予約の変更・キャンセルは？\nA. 前日までは「予約の確認・キャンセル」から。当日はお電話でお願いします。\n"
        f"お問い合わせ：{settings.phone}（{settings.phone_hours}）")

"""What the bot says outside any one step: greetings, the menu, global commands, safety, pauses."""

from __future__ import annotations

from datetime import date

from conversations import messages as m
from conversations.desk import DeskSettings, Maintenance
from conversations.faq import FaqEntry, render
from conversations.normalise import fold

BOOK, MY_BOOKINGS, POLICY, FAQ = "menu:book", "menu:bookings", "menu:policy", "menu:faq"
CHAT = "menu:chat"  # a chat with a counsellor
MENU_ITEMS = (
    ("相談を予約する", BOOK),
    ("予約の確認・キャンセル", MY_BOOKINGS),
    ("チャット相談", CHAT),
    ("利用規約", POLICY),
    ("よくある質問・お問い合わせ", FAQ),
)
MENU_ITEMS_BY_INTENT = tuple((data, label) for label, data in MENU_ITEMS)
# Typed words that mean the same as a menu button.
MENU_WORDS = {
    BOOK: ("相談を予約する", "予約する", "予約", "相談予約", "予約したい"),
    MY_BOOKINGS: ("予約の確認・キャンセル", "予約の確認", "予約確認", "予約をキャンセル", "予約キャンセル"),
    CHAT: ("チャット相談",),
    POLICY: ("利用規約", "運用ポリシー", "規約"),
    FAQ: ("よくある質問・お問い合わせ", "よくある質問", "お問い合わせ", "問い合わせ"),
}
QUIT_WORDS = ("やめる", "やめます", "やめたい", "止める", "辞める", "キャンセル", "中止", "中止する", "中止したい",
              "終わる", "終わり", "おわり", "終了", "もういい", "やっぱりやめる")
BACK_WORDS = ("戻る", "もどる", "戻りたい", "もどりたい", "戻って", "前に戻る", "ひとつ前", "一つ前", "前の質問", "戻",
              "back")
MENU_COMMAND_WORDS = ("メニュー", "最初から", "はじめから", "初めから", "最初に戻る", "最初からやり直す", "やり直し",
                      "やりなおし", "やり直したい", "トップ", "menu")
HELP_WORDS = ("ヘルプ", "help", "使い方", "つかいかた", "助けて")


# Folded once: every turn asks.
_COMMANDS = tuple((command, frozenset(fold(w) for w in words)) for command, words in (
    ("quit", QUIT_WORDS), ("back", BACK_WORDS), ("menu", MENU_COMMAND_WORDS), ("help", HELP_WORDS)))
_MENU_INTENTS = tuple((intent, frozenset(fold(w) for w in words)) for intent, words in MENU_WORDS.items())


def command_for(said: str) -> str | None:
    """quit, back, menu or help, when typed text is one of those commands in a usual form."""
    folded = fold(said)
    return next((command for command, words in _COMMANDS if folded and folded in words), None)


def menu_intent_for(said: str) -> str | None:
    folded = fold(said)
    return next((intent for intent, words in _MENU_INTENTS if folded in words), None)


def day_label(day: date, today: date) -> str:
    """4月1日; with the year only when it is not this year's (2025年4月1日)."""
    return f"{day.month}月{day.day}日" if day.year == today.year else f"{day.year}年{day.month}月{day.day}日"

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


def who_for(settings: DeskSettings) -> str:
    return f"働く若い方（{settings.age_min}歳〜{settings.age_max}歳）"


def greeting(settings: DeskSettings, unblocked: bool) -> m.Message:
    first = "おかえりなさい。" if unblocked else "友だち追加ありがとうございます。"
    return m.text(f"{first}\n{settings.desk_name}は、{who_for(settings)}のキャリアや収入のご相談を、"
                  "専門の相談員がオンライン（Microsoft Teams）でお受けする窓口です。")


def chat_action() -> m.Action:
    return m.postback_action("チャット相談", CHAT, "チャット相談")


def crisis(settings: DeskSettings, chat_open: bool, in_chat: bool = False) -> m.Message:
    """The hotlines, whether a person reads this chat now, and the chat when it is open."""
    lines = "\n".join(f"・{h}" for h in settings.hotlines)
    if in_chat:
        now = "相談員がこのチャットを読んでいます。このままお話しください。"
        chat_open = False  # no button: the user is already talking to a person
    elif chat_open:
        now = "いま、相談員とお話しできます。「チャット相談」からどうぞ。"
    else:
        now = ("いま、このLINEは相談員が読んでいません（自動でお返事しています）。"
               f"窓口のお電話（{settings.phone}、{settings.phone_hours}）でもお話を伺います。")
    return m.text("つらいお気持ちを伝えてくださり、ありがとうございます。\n"
                  f"今すぐ話を聴いてもらえる窓口があります。\n{lines}\n"
                  f"命の危険があるときは、すぐに{settings.emergency_number}番に電話してください。\n{now}",
                  [chat_action()] if chat_open else None)


def crisis_then_wait() -> m.Message:
    return m.text("ご相談の続きは、落ち着いたときにいつでも送ってください。")


def paused(notice: Maintenance) -> m.Message:
    until = f"\n再開予定：{notice.until}" if notice.until else ""
    return m.text(f"ただいまサービスを一時停止しています。\n{notice.notice}{until}")


def timed_out(minutes: int) -> m.Message:
    return m.text(f"前回の操作から{minutes}分以上経ったため、入力途中の内容は破棄しました。")


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


def _phone_action(settings: DeskSettings) -> m.Action:
    return m.uri_action("電話をかける", "tel:" + "".join(c for c in settings.phone if c.isdigit()))


def faq_list(settings: DeskSettings, entries: list[FaqEntry]) -> m.Message:
    """よくある質問: the titles, each a button that asks it; typed questions work too."""
    titles = "\n".join(f"・{e.title}" for e in entries)
    return m.text(f"よくある質問です。知りたいことを選ぶか、そのまま文章で質問してください。\n{titles}\n"
                  f"お問い合わせ：{settings.phone}（{settings.phone_hours}）",
                  [m.message_action(e.title) for e in entries[:12]] + [_phone_action(settings)])


def faq_answer(settings: DeskSettings, entry: FaqEntry, chat_open: bool) -> m.Message:
    labels = dict(MENU_ITEMS_BY_INTENT)
    actions = [m.postback_action(labels[b], b, labels[b]) for b in entry.buttons if b in labels]
    actions += [m.postback_action("ほかの質問", FAQ, "よくある質問")]
    if chat_open:
        actions.append(chat_action())
    return m.text(render(entry, settings), actions)


def no_answer(settings: DeskSettings, chat_open: bool) -> m.Message:
    """Typed text the FAQ has no answer for: said plainly, with the ways on."""
    person = "相談員とチャットで話す、" if chat_open else ""
    actions = ([chat_action()] if chat_open else []) + [
        m.postback_action("相談を予約する", BOOK, "相談を予約する"), _phone_action(settings),
        m.postback_action("よくある質問", FAQ, "よくある質問")]
    return m.text("すみません、そのご質問にお答えできる内容が見つかりませんでした。\n"
                  f"{person}相談を予約する、お電話（{settings.phone}、{settings.phone_hours}）で問い合わせる、"
                  "よくある質問を見る、のいずれかをお選びください。", actions)

"""Chat with a counsellor, as the user meets it: asking for a person, waiting in line, the chat, its end.

While a chat is open the bot keeps quiet: what the user writes is the operator's to read and
answer (it is in the user's timeline in the console). Only the few words below are the bot's.
"""

from __future__ import annotations

import unicodedata

from conversations import messages as m
from conversations import texts
from conversations.chat_hours import label_hours, label_opening
from conversations.desk import ChatClosed, ChatView, Desk, DeskSettings
from conversations.inputs import Postback, Text, UserInput

LEAVE, END, RATE = "chat:leave", "chat:end", "chat:rate:"
LEAVE_WORDS = texts.QUIT_WORDS + ("順番待ちをやめる",)
END_WORDS = ("終了", "終わり", "おわり", "チャット終了", "相談を終了", "チャットを終了")
# A typed request for a person: someone (人, 相談員, ...) and a wish to talk (話したい, つないで, ...),
# so that a question about the desk (電話で相談できますか) is not taken for one.
_SOMEONE = ("人と", "人に", "相談員", "人間", "誰か", "だれか", "オペレーター", "スタッフ", "担当", "カウンセラー", "チャット", "電話",
            "ひとと", "専門家")
_WISH = ("話したい", "はなしたい", "相談したい", "そうだんしたい", "つないで", "繋いで", "つなげて", "代わって", "かわって",
         "話せますか", "話せる", "と話す", "に相談", "と相談", "お願い")
_ASKS = ("チャット相談", "チャットで相談", "有人対応", "話を聞いてほしい", "話をきいてほしい", "話を聴いてほしい",
         "話聞いてほしい", "話を聞いてください", "話を聴いてください")


def asks_for_person(text: str) -> bool:
    said = "".join(ch for ch in unicodedata.normalize("NFKC", text)
                   if not unicodedata.category(ch).startswith(("P", "S", "Z")))
    if len(said) > 40:  # a long text is a consultation, not a request
        return False
    return any(a in said for a in _ASKS) or (any(s in said for s in _SOMEONE) and any(w in said for w in _WISH))


def ask_for_person(desk: Desk) -> list[m.Message]:
    current = desk.current_chat()
    if current is not None:
        return [_still_waiting(current) if current.waiting else m.text("相談員とチャット中です。このままメッセージをお送りください。")]
    found = desk.request_chat()
    if isinstance(found, ChatClosed):
        return closed(desk, found)
    return [_queued(found)]


def in_chat(desk: Desk, chat: ChatView, user_input: UserInput, said: str) -> list[m.Message] | None:
    """The bot's part while a chat is open; None: the input is not the chat's (a menu button, say)."""
    if isinstance(user_input, Postback):
        if user_input.data == LEAVE and chat.waiting:
            return _left(desk)
        if user_input.data == END and not chat.waiting:
            return ended_by_user(desk)
        return None
    if isinstance(user_input, Text):
        if chat.waiting and said in LEAVE_WORDS:
            return _left(desk)
        if not chat.waiting and said in END_WORDS:
            return ended_by_user(desk)
    desk.chat_said()
    return []  # the operator reads it and answers


def rate(desk: Desk, data: str) -> list[m.Message]:
    chat_id, _, score = data[len(RATE):].partition(":")
    if score == "skip" or not (chat_id.isdigit() and score.isdigit()):
        return texts.with_menu([m.text("承知しました。またいつでもご相談ください。")])
    if desk.rate_chat(int(chat_id), int(score)):
        return texts.with_menu([m.text("ご回答ありがとうございました。今後の相談に役立てます。")])
    return texts.with_menu([m.text("この相談へのご回答はすでにいただいています。")])


def ended_by_user(desk: Desk) -> list[m.Message]:
    chat_id = desk.end_chat()
    if chat_id is None:
        return texts.with_menu([m.text("チャット相談はすでに終了しています。")])
    return ended(chat_id)


# What the desk sends outside a turn (the operator took the chat, ended it, nobody came)

def taken() -> list[m.Message]:
    return [m.text("相談員につながりました。ここからは相談員がお返事します。\n"
                   "終えるときは「終了」と送ってください。", [m.postback_action("終了", END, "終了")])]


def ended(chat_id: int, *, by_silence: int | None = None) -> list[m.Message]:
    why = (f"{by_silence}分間やりとりがなかったため、" if by_silence else "")
    scores = [m.postback_action(str(n), f"{RATE}{chat_id}:{n}", str(n)) for n in range(5, 0, -1)]
    return [m.text(f"{why}チャット相談を終了しました。ご利用ありがとうございました。"),
            m.text("よろしければ、今回の相談の満足度を5段階で教えてください（5がとても満足）。回答は任意です。",
                   scores + [m.postback_action("回答しない", f"{RATE}{chat_id}:skip", "回答しない")])]


def nobody_came(desk_settings: DeskSettings) -> list[m.Message]:
    return [m.text("お待たせして申し訳ありません。ただいま相談員におつなぎできません。\n"
                   f"お電話（{desk_settings.phone}、{desk_settings.phone_hours}）か、"
                   "ご都合のよい日時の予約でご相談をお受けします。",
                   [m.postback_action("相談を予約する", texts.BOOK, "相談を予約する"),
                    m.postback_action("チャット相談", texts.CHAT, "チャット相談")])]


def closed(desk: Desk, found: ChatClosed) -> list[m.Message]:
    settings = desk.settings
    hours = label_hours(settings.chat, settings.rules)
    if found.outside_hours:
        first = f"チャット相談の受付時間外です。\n受付時間：{hours}"
        if found.next_opening is not None:
            first += f"\n次は{label_opening(found.next_opening)}から受け付けます。"
    else:
        first = f"ただいま対応できる相談員がいません。申し訳ありません。\n受付時間：{hours}"
    return [m.text(first),
            m.text(f"予約してのご相談、またはお電話（{settings.phone}、{settings.phone_hours}）でもお受けします。",
                   [m.postback_action("相談を予約する", texts.BOOK, "相談を予約する"),
                    m.postback_action("メニュー", "cmd:menu", "メニュー")])]


def _queued(chat: ChatView) -> m.Message:
    return m.text("チャット相談の順番待ちに登録しました。相談員がつながるまで、このままお待ちください。\n"
                  f"{_ahead(chat)}\n順番待ちをやめるときは「やめる」と送ってください。",
                  [m.postback_action("順番待ちをやめる", LEAVE, "順番待ちをやめる")])


def _still_waiting(chat: ChatView) -> m.Message:
    return m.text(f"チャット相談の順番待ち中です。{_ahead(chat)}",
                  [m.postback_action("順番待ちをやめる", LEAVE, "順番待ちをやめる")])


def _ahead(chat: ChatView) -> str:
    return f"前に{chat.ahead}人お待ちです。" if chat.ahead else "次にご案内します。"


def _left(desk: Desk) -> list[m.Message]:
    desk.leave_chat()
    return texts.with_menu([m.text("順番待ちをやめました。またいつでもご利用ください。")])

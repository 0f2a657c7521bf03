"""The bot's answers until the consent and booking flows take over: greet, acknowledge, explain.

Every answer is a list of LINE message documents plus the flow and step it belongs to, which the
conversation log records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import messages as m
from .inputs import Follow, Postback, Text, Unfollow, Unsupported, UserInput

DESK_NAME = "みらいキャリアポート"


@dataclass
class Answer:
    messages: list[m.Message] = field(default_factory=list)
    flow: str | None = None
    step: str | None = None


def greeting(unblocked: bool) -> Answer:
    first = "おかえりなさい。" if unblocked else "友だち追加ありがとうございます。"
    return Answer(
        [m.text(f"{first}\n{DESK_NAME}は、働く若い方のキャリアや収入のご相談をオンラインでお受けする窓口です。"
                "\nメッセージを送ってお試しください。")],
        flow="welcome",
        step="greeting",
    )


def respond(user_input: UserInput) -> Answer:
    match user_input:
        case Follow(unblocked=unblocked):
            return greeting(unblocked)
        case Unfollow():
            return Answer(flow="welcome", step="blocked")
        case Text(text=said):
            return Answer([m.text(f"「{said[:100]}」を受け付けました。ご相談の予約は準備中です。しばらくお待ちください。")],
                          flow="welcome", step="free_text")
        case Postback():
            return Answer([m.text("選択を受け付けました。")], flow="welcome", step="postback")
        case Unsupported():
            return Answer([m.text("申し訳ありません。文字のメッセージとボタンの操作のみ受け付けています。")],
                          flow="welcome", step="unsupported")
    raise TypeError(f"unknown input {type(user_input).__name__}")

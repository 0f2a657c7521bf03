"""Chat scripts and readers that many tests share: a new friend agreeing to the policy, the
booking up to the date (topic and age) and up to the name step, the details, a whole booking, and what LINE delivered."""

from __future__ import annotations

from tests.support.chat import at, follow, never_says, offers, says, send, tap

AGREED = [
    (follow(), says("友だち追加ありがとうございます", "利用規約"), offers("同意する", "同意しない", "全文を読む")),
    (tap("同意する"), says("ご同意いただき"), offers("相談を予約する", "予約の確認・キャンセル", "利用規約")),
]

# From the menu to the date: the topic, then the age (asked before any date or time).
TO_DATES = [
    (tap("相談を予約する"), says("テーマ"), offers("キャリア・転職", "収入・家計", "職場の悩み・労働条件", "その他")),
    (tap("キャリア・転職"), says("年齢"), at("booking", "age")),
    (send("２５歳"), says("ご希望の日"), offers("12/2(水)", "カレンダーから選ぶ"), never_says("12/1")),
]

UP_TO_NAME = AGREED + TO_DATES + [
    (tap("12/2(水)"), says("12月2日(水) の空き時間"), offers("10:00", "11:30", "13:00", "18:00")),
    (tap("10:00"), says("12月2日(水) 10:00〜10:30 を仮予約しました（9:15まで）", "お名前"), at("booking", "name")),
]

DETAILS = [
    (send("山田　太郎"), says("フリガナ")),
    (send("やまだ たろう"), says("メールアドレス")),
    (send("Taro@Example.JP"), says("電話番号")),
    (send("０９０ー１２３４ー５６７８"), says("ご相談内容")),
    (send("転職を考えています。\n今の職場の残業が多くて悩んでいます。"), says("ご一緒に参加される方"),
     offers("なし", "通訳の方", "手話通訳の方", "介助・付き添いの方"), at("booking", "attendant")),
    (tap("なし"),
     says("ご予約内容の確認", "山田 太郎", "ヤマダ タロウ", "25歳", "Taro@example.jp", "090-1234-5678"),
     offers("確定", "修正", "やめる"), at("booking", "summary")),
]

BOOKED = UP_TO_NAME + DETAILS + [(tap("確定"), says("ご予約が確定しました"))]


def pushed(fake_line, user_id: str) -> list[dict]:
    return [d.message for d in fake_line.store.messages_to(user_id) if d.via == "push"]


def join_buttons(messages: list[dict]) -> list[str]:
    found = []
    for message in messages:
        for box in ("footer",):
            for item in message.get("contents", {}).get(box, {}).get("contents", []):
                if item.get("action", {}).get("type") == "uri":
                    found.append(item["action"]["uri"])
    return found

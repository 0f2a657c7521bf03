"""One way to read what people type, shared by the FAQ, the commands and the words of crisis.

NFKC (full-width letters and digits, half-width kana), lower case, katakana folded into hiragana,
and everything that is not a letter, a digit or the long-vowel mark dropped: punctuation, spaces,
symbols and emoji. So 「シニタイ…」, 「しにたい」 and 「し に た い！」 read the same.
"""

from __future__ import annotations

import unicodedata

# Katakana ァ..ヶ and the iteration marks ヽヾ fold onto hiragana ぁ..ゖ and ゝゞ.
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)} | {0x30FD: 0x309D, 0x30FE: 0x309E}
_KEEP = frozenset({"ー"})


def fold(text: str) -> str:
    """The text as matching sees it."""
    folded = unicodedata.normalize("NFKC", text).lower().translate(_KATAKANA_TO_HIRAGANA)
    return "".join(c for c in folded if c in _KEEP or unicodedata.category(c)[0] in "LN")


def is_question(text: str) -> bool:
    """Whether typed text asks something or asks for something, rather than answering.

    A question mark, a polite question's ending (ですか, ますか, でしょうか…), or a request to talk, call or cancel.
    Used at the steps that take free text, so 「電話で相談できますか」 is never taken as a name.
    """
    raw = unicodedata.normalize("NFKC", text).strip()
    if not raw:
        return False
    if "?" in raw:
        return True
    said = fold(raw)
    if said.endswith(_QUESTION_ENDINGS):
        return True
    return any(word in said for word in _REQUEST_WORDS)


# Endings that no name or reading ends with (はるか and あかね do end in か and かね).
_QUESTION_ENDINGS = ("ですか", "ますか", "ませんか", "でしょうか", "っけ", "どう", "なに", "なんで", "どこ", "いくら",
                     "何", "誰", "ますかね", "ですかね")
_REQUEST_WORDS = ("教えて", "おしえて", "知りたい", "しりたい", "したいです", "話したい", "はなしたい", "話せ", "はなせ",
                  "電話", "でんわ", "きゃんせる", "取り消", "とりけし", "問い合わせ", "といあわせ", "わからない",
                  "分からない", "わかりません", "分かりません", "どうすれば", "どうやって", "どうしたら", "できる",
                  "できます", "いいですか", "ください", "下さい", "お願い", "おねがい", "相談員", "人と")

"""Words of crisis: the desk's list, and whether a message uses one of them.

Both the words and the message are read through `normalise.fold`, so one entry covers its
hiragana, katakana, half-width and spaced-out forms (死にたい in kanji is its own entry). A word in
Latin letters (od) counts only on its own, not inside another word (food, goodman@...).
The list is a setting (CRISIS_WORDS); it errs on the side of answering with the hotlines.
"""

from __future__ import annotations

import re
from functools import lru_cache

from conversations.normalise import fold

DEFAULT_CRISIS_WORDS = (
    # wanting to die
    "死にたい", "しにたい", "死にたく", "しにたく", "死のう", "しのう", "死んでしまいたい", "死んじゃいたい",
    "死にてえ", "しにてえ", "死ぬしかない", "しぬしかない", "死ねたら", "しねたら", "死んだほうがまし", "死んだ方がまし",
    "タヒにたい", "氏にたい", "4にたい", "市にたい",
    # disappearing
    "消えたい", "きえたい", "消えてしまいたい", "きえてしまいたい", "消えちゃいたい", "きえちゃいたい",
    "消えてなくなりたい", "いなくなりたい", "居なくなりたい", "この世からいなくなり",
    # living is too hard
    "生きるのがつらい", "生きるのが辛い", "いきるのがつらい", "生きるのがしんどい", "生きるのつらい", "生きるの辛い",
    "生きていたくない", "生きていたく無い", "いきていたくない", "生きてたくない", "生きる意味がない", "生きる意味ない",
    "生きてる意味", "生きている意味がない", "生きてても仕方", "生きていても仕方", "生まれてこなければ",
    "終わりにしたい", "人生終わらせ", "楽になりたい", "全部終わりにしたい",
    # self-harm and ways of dying
    "自殺", "じさつ", "自死", "自傷", "リスカ", "リストカット", "アムカ", "手首を切", "od", "オーバードーズ",
    "薬を大量", "飛び降り", "とびおり", "首を吊", "首吊", "首つり", "練炭", "遺書", "希死念慮",
)


def _pattern(word: str) -> str:
    folded = fold(word)
    if folded.isascii():
        return rf"(?<![a-z]){re.escape(folded)}(?![a-z])"
    return re.escape(folded)


@lru_cache(maxsize=8)
def _compiled(words: tuple[str, ...]) -> re.Pattern[str] | None:
    patterns = [_pattern(w) for w in words if fold(w)]
    return re.compile("|".join(patterns)) if patterns else None


def mentions_crisis(text: str, words: tuple[str, ...]) -> bool:
    pattern = _compiled(tuple(words))
    return pattern is not None and pattern.search(fold(text)) is not None

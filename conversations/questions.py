"""Typed questions: answered from the desk's FAQ, or said plainly that there is no answer.

Outside a flow every typed text that is not a command comes here. Inside a flow, at a step that
takes free text, a question or a request is answered here and the step is asked again, so that
「電話で相談できますか？」 never becomes somebody's name.
"""

from __future__ import annotations

from conversations import messages as m
from conversations import texts
from conversations.desk import Desk
from conversations.faq import Match, matcher
from conversations.normalise import fold, is_question

# Pieces of a sentence no name contains; with an FAQ match they make typed text a question
# (「相談ってお金かかる」), while a name that happens to hold a keyword (朝倉, 若林) stays a name.
_SENTENCE = ("って", "ます", "です", "ません", "でしょ", "かかる", "やって", "できる", "いける", "だめ", "ダメ", "いい",
             "ある", "たい", "どう", "なに", "いつ", "どこ", "なんで", "なんじ")


def match(desk: Desk, said: str) -> Match | None:
    entries = desk.faq_entries()
    return matcher(entries).best(said) if entries else None


def answer(desk: Desk, said: str) -> list[m.Message]:
    found = match(desk, said)
    if found is None:
        return [texts.no_answer(desk.settings, desk.chat_open())]
    return [texts.faq_answer(desk.settings, found.entry, desk.chat_open())]


def asked_instead(desk: Desk, said: str, *, strict: bool = False) -> list[m.Message] | None:
    """At a free-text step: the answer to a question typed instead of the step's answer, or None
    when the text is an answer. `strict` (the consultation text, which may well ask something of
    the counsellor): only a question the FAQ answers counts."""
    questioning = is_question(said)
    if strict:
        return answer(desk, said) if questioning and len(said) <= 60 and match(desk, said) else None
    folded = fold(said)
    if questioning or (any(fold(p) in folded for p in _SENTENCE) and match(desk, said) is not None):
        return answer(desk, said)
    return None

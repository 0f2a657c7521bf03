"""One word for one thing in everything the desk writes, to users and to staff alike: a booking is
キャンセル (never 取り消し) and a booking not yet confirmed is 仮予約 (never 仮押さえ). What users type
may say either: the forms the bot recognises (normalise.py, faq_defaults.py) are not checked."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRITTEN = ("bot", "handlers", "conversations")
RECOGNISED_INPUT = {ROOT / "conversations" / "normalise.py", ROOT / "conversations" / "faq_defaults.py"}
OTHER_WORDS = {"取り消": "キャンセル", "取消": "キャンセル", "仮押さえ": "仮予約"}


LINES_OWN_TERMS = ("送信取消",)  # LINE's name for a message its sender unsent: not a booking's cancellation


def other_words(text: str) -> list[str]:
    for term in LINES_OWN_TERMS:
        text = text.replace(term, "")
    return [f"{word} (say {ours})" for word, ours in OTHER_WORDS.items() if word in text]


def written_texts() -> list[tuple[str, str]]:
    """(where, text) for every template and every string in the project's code."""
    found = []
    for package in WRITTEN:
        for path in sorted((ROOT / package).rglob("*")):
            where = str(path.relative_to(ROOT))
            if path.suffix == ".html":
                found.append((where, path.read_text(encoding="utf-8")))
            elif path.suffix == ".py" and path not in RECOGNISED_INPUT:
                tree = ast.parse(path.read_text(encoding="utf-8"))
                found += [(f"{where}:{node.lineno}", node.value) for node in ast.walk(tree)
                          if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return found


def test_the_check_finds_the_other_word_for_a_cancellation_and_for_a_hold():
    assert other_words("ご予約が取り消されました。") == ["取り消 (say キャンセル)"]
    assert other_words("今後の予約（仮押さえ・確定）") == ["仮押さえ (say 仮予約)"]
    assert other_words("ご予約をキャンセルしました。仮予約です。（送信取消）") == []


def test_everything_the_desk_writes_uses_the_desks_words():
    offenders = [f"{where}: {found}" for where, text in written_texts() for found in other_words(text)]
    assert offenders == []

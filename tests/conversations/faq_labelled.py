"""The labelled questions that measure the FAQ matcher (docs/faq.md), split once and for all:
every fourth question is held out, never looked at while tuning the entries or the thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conversations.faq import Matcher

QUESTIONS = Path(__file__).parent / "data" / "faq_questions.tsv"
NONE = "-"


@dataclass(frozen=True)
class Labelled:
    label: str
    question: str


def labelled() -> tuple[list[Labelled], list[Labelled]]:
    """(tuning part, held-out part)."""
    rows = [line.split("\t", 1) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    items = [Labelled(label.strip(), question.strip()) for label, question in rows]
    return [q for i, q in enumerate(items) if i % 4 != 3], [q for i, q in enumerate(items) if i % 4 == 3]


@dataclass(frozen=True)
class Measured:
    questions: int
    in_scope: int
    answered: int
    correct: int
    wrong: list[tuple[str, str, str]]  # question, expected, answered with
    unanswered: list[tuple[str, str]]

    @property
    def precision(self) -> float:
        return self.correct / self.answered if self.answered else 0.0

    @property
    def coverage(self) -> float:
        """Of the questions the FAQ does answer, how many got an answer."""
        answered_in_scope = self.answered - sum(1 for _, expected, _ in self.wrong if expected == NONE)
        return answered_in_scope / self.in_scope if self.in_scope else 0.0


def measure(matcher: Matcher, items: list[Labelled]) -> Measured:
    answered = correct = 0
    wrong, unanswered = [], []
    for item in items:
        match = matcher.best(item.question)
        if match is None:
            if item.label != NONE:
                unanswered.append((item.question, item.label))
            continue
        answered += 1
        if match.entry.key == item.label:
            correct += 1
        else:
            wrong.append((item.question, item.label, match.entry.key))
    return Measured(len(items), sum(1 for i in items if i.label != NONE), answered, correct, wrong, unanswered)

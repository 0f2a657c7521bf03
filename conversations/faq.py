"""The desk's FAQ: entries, their answers filled from the settings, and matching a typed question.

Matching reads both sides through `normalise.fold`, then scores each entry by the character
bigrams it shares with the entry's example questions (weighted by how rare each bigram is across
all examples, cosine) plus its keywords found in the question. The best entry answers when its
score reaches THRESHOLD and leads the next entry by MARGIN; otherwise nothing answers and the
bot says so. Measured on a labelled set: tests/conversations/test_faq_matching.py, docs/faq.md.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conversations.normalise import fold

THRESHOLD = 0.45
MARGIN = 0.05
# One keyword found is enough to answer; a longer one counts a little more (昼休み over 休み).
KEYWORD_WEIGHT = 0.45


@dataclass(frozen=True)
class FaqEntry:
    key: str
    title: str
    questions: tuple[str, ...]
    answer: str  # may name settings as {phone}, {age_min}, ...: see `figures`
    keywords: tuple[str, ...] = ()
    buttons: tuple[str, ...] = ()  # menu intents (texts.BOOK, ...) offered under the answer


def figures(settings: Any) -> dict[str, str]:
    """What an answer may name in braces, from the desk's settings."""
    rules = settings.rules
    return {
        "desk_name": settings.desk_name,
        "phone": settings.phone,
        "phone_hours": settings.phone_hours,
        "address": settings.address,
        "age_min": str(settings.age_min),
        "age_max": str(settings.age_max),
        "topics": "、".join(settings.topics),
        "session_minutes": str(rules.session_minutes),
        "windows": "、".join(f"{a:%H:%M}〜{b:%H:%M}" for a, b in rules.windows),
        "cutoff": f"{rules.cutoff_time:%H:%M}",
        "horizon_days": str(rules.horizon_days),
        "hold_minutes": str(rules.hold_minutes),
        "max_active": str(rules.max_active_bookings_per_user),
        "late_minutes": str(settings.late_minutes),
        "no_show_limit": str(settings.no_show_limit),
        "policy_url": settings.policy_url,
    }


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def unknown_placeholders(answer: str, settings: Any) -> list[str]:
    known = figures(settings)
    return sorted({name for name in _PLACEHOLDER.findall(answer) if name not in known})


def render(entry: FaqEntry, settings: Any) -> str:
    known = figures(settings)
    return _PLACEHOLDER.sub(lambda found: known.get(found.group(1), found.group(0)), entry.answer)


def _bigrams(folded: str) -> set[str]:
    if len(folded) < 2:
        return {folded} if folded else set()
    return {folded[i:i + 2] for i in range(len(folded) - 1)}


@dataclass(frozen=True)
class Match:
    entry: FaqEntry
    score: float


@dataclass
class Matcher:
    entries: list[FaqEntry]
    _examples: list[tuple[int, set[str]]] = field(default_factory=list)
    _keywords: list[list[str]] = field(default_factory=list)
    _idf: dict[str, float] = field(default_factory=dict)
    _unseen: float = 0.0

    def __post_init__(self) -> None:
        document_counts: Counter[str] = Counter()
        for index, entry in enumerate(self.entries):
            for question in (entry.title, *entry.questions):
                grams = _bigrams(fold(question))
                if grams:
                    self._examples.append((index, grams))
                    document_counts.update(grams)
            self._keywords.append([k for k in (fold(w) for w in entry.keywords) if k])
        total = max(len(self._examples), 1)
        self._idf = {g: math.log(1 + total / n) for g, n in document_counts.items()}
        self._unseen = math.log(1 + total)

    def _weight(self, gram: str) -> float:
        return self._idf.get(gram, self._unseen)

    def scores(self, text: str) -> list[Match]:
        folded = fold(text)
        grams = _bigrams(folded)
        if not grams:
            return []
        asked = math.sqrt(sum(self._weight(g) ** 2 for g in grams))
        best = [0.0] * len(self.entries)
        for index, example in self._examples:
            shared = sum(self._weight(g) ** 2 for g in grams & example)
            if shared:
                norm = asked * math.sqrt(sum(self._weight(g) ** 2 for g in example))
                best[index] = max(best[index], shared / norm)
        for index, keywords in enumerate(self._keywords):
            hits = sum(0.9 + 0.05 * min(len(k), 6) for k in keywords if k in folded)
            best[index] += KEYWORD_WEIGHT * min(hits, 2.0)
        ranked = sorted((Match(e, s) for e, s in zip(self.entries, best) if s > 0), key=lambda m: -m.score)
        return ranked

    def best(self, text: str) -> Match | None:
        """The entry that answers `text`, or None when no entry is clearly the one."""
        ranked = self.scores(text)
        if not ranked or ranked[0].score < THRESHOLD:
            return None
        if len(ranked) > 1 and ranked[0].score - ranked[1].score < MARGIN:
            return None
        return ranked[0]


_MATCHERS: dict[tuple[FaqEntry, ...], Matcher] = {}


def matcher(entries: list[FaqEntry]) -> Matcher:
    """One matcher per set of entries, kept while that set is the one in force."""
    key = tuple(entries)
    found = _MATCHERS.get(key)
    if found is None:
        if len(_MATCHERS) > 8:
            _MATCHERS.clear()
        found = _MATCHERS[key] = Matcher(list(entries))
    return found

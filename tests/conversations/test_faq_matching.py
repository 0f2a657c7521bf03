"""The FAQ matcher measured on the labelled questions (docs/faq.md): what share of answered
questions got the right entry, and what share of answerable questions got an answer at all."""

from __future__ import annotations

from conversations.faq import Matcher
from conversations.faq_defaults import DEFAULT_FAQ
from tests.conversations.faq_labelled import NONE, labelled, measure

TUNING, HELD_OUT = labelled()


def test_the_labelled_set_has_at_least_150_questions_and_a_held_out_part():
    assert len(TUNING) + len(HELD_OUT) >= 150
    assert len(HELD_OUT) >= 50
    assert {q.label for q in TUNING + HELD_OUT} - {NONE} <= {e.key for e in DEFAULT_FAQ}


def test_answered_questions_are_answered_rightly_and_most_questions_are_answered():
    for name, part in (("tuning", TUNING), ("held out", HELD_OUT)):
        measured = measure(Matcher(list(DEFAULT_FAQ)), part)
        assert measured.precision >= 0.9, (name, measured.precision, measured.wrong)
        assert measured.coverage >= 0.8, (name, measured.coverage, measured.unanswered)


def test_questions_are_read_alike_in_katakana_hiragana_full_width_and_with_emoji():
    matcher = Matcher(list(DEFAULT_FAQ))
    for asked in ("相談ってお金かかる？", "ソウダンッテオカネカカル？？", "相談ってお金かかる😅", "相談って　お金　かかる！"):
        found = matcher.best(asked)
        assert found is not None and found.entry.key == "cost", asked

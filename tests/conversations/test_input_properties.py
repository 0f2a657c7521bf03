"""Whatever a user types, at any question: a value or a friendly re-ask, never an exception.

Properties of every validator and normaliser (conversations/validators.py) and of the typed dates
and times the booking flow accepts (conversations/when.py), over any Unicode text: control
characters, huge strings, full-width digits, emoji, right-to-left marks. tests/conversations/test_validators.py
holds the examples and the first properties; this file adds the rest, and drives the whole engine
with arbitrary text at every step of the booking flow.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from datetime import date, time, timedelta

from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from conversations.validators import (
    FURIGANA_MAX,
    NAME_MAX,
    Ineligible,
    Invalid,
    Valid,
    age,
    consultation_text,
    email,
    format_phone,
    full_name,
    furigana,
    phone,
)
from conversations.when import parse_day, parse_time
from tests.support.chat import TUESDAY_MORNING, Chat

MANY = settings(max_examples=300, deadline=None, database=None)

# Text people and their phones actually produce, and text designed to hurt.
awkward = st.sampled_from(
    list("0123456789０１２３４５６７８９٣४๕𝟏²½ⅫAaＡａ山田あア｡ｱﾞー‐－―~〜:：/／.年月日時分半歳才@＠+＋()（）")
    + ["\u200b", "\u200d", "\u202e", "\u200f", "\u2066", "\ufeff", "\u3000", "\x00", "\x07", "\x1b", "\r", "\n",
       "\t", "\x85", "\u2028", "\ue000", "🙂", "👩‍👩‍👧", "🇯🇵", "\u0301", "ﷺ", "ﬀ", "㍻", "㌔", "̈"])
typed = st.one_of(
    st.text(),  # any Unicode text without lone surrogates
    st.lists(awkward, max_size=40).map("".join),
    st.builds(lambda c, n: c * n, st.lists(awkward, min_size=1, max_size=3).map("".join), st.integers(1000, 6000)),
    st.sampled_from(["12/5", "１２／５", "12月5日", "あした", "明日", "13時", "１３時半", "1330", "10:00〜10:30",
                     "2026-12-02", "9999/99/99", "0/0", "2/30", "24時", "99:99", "０９０ー１２３４ー５６７８"]),
)
RESULTS = (Valid, Invalid, Ineligible)
REASK_MAX = 200  # a re-ask is a short sentence, not an echo of what was typed


def _judged(result) -> None:
    assert isinstance(result, RESULTS)
    if isinstance(result, Invalid):
        assert result.reask and len(result.reask) <= REASK_MAX
    if isinstance(result, Ineligible):
        assert result.message


# --- validators -------------------------------------------------------------------------------


@MANY
@given(typed)
def test_every_validator_gives_a_value_or_a_short_reask_for_any_text(s: str) -> None:
    for result in (full_name(s), furigana(s), age(s, 15, 39), email(s), phone(s), consultation_text(s),
                   consultation_text(s, limit=10)):
        _judged(result)
    assert isinstance(format_phone(s), str)


@MANY
@given(typed)
def test_an_accepted_name_is_clean_bounded_and_accepted_unchanged_when_sent_again(s: str) -> None:
    result = full_name(s)
    if isinstance(result, Valid):
        name = result.value
        assert 1 <= len(name) <= NAME_MAX
        assert name == name.strip() and "  " not in name
        assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in name)
        assert full_name(name) == result


@MANY
@given(typed)
def test_an_accepted_reading_is_katakana_only_and_bounded(s: str) -> None:
    result = furigana(s)
    if isinstance(result, Valid):
        assert 1 <= len(result.value) <= FURIGANA_MAX
        assert re.fullmatch(r"[\u30A1-\u30FE]+( [\u30A1-\u30FE]+)*", result.value)


@MANY
@given(typed, st.integers(0, 60), st.integers(0, 60))
def test_an_accepted_age_is_within_the_range_and_reads_back_the_same(s: str, low: int, span: int) -> None:
    high = low + span
    result = age(s, low, high)
    _judged(result)
    if isinstance(result, Valid):
        assert low <= result.value <= high
        assert age(str(result.value), low, high) == result


@MANY
@given(st.integers(0, 130), st.sampled_from(["{}", "{}歳", "{}才", " {} ", "{}\u3000歳"]), st.booleans())
def test_an_age_typed_in_half_or_full_width_digits_is_read_as_that_number(years: int, shape: str, wide: bool) -> None:
    digits = str(years).translate(str.maketrans("0123456789", "０１２３４５６７８９")) if wide else str(years)
    result = age(shape.format(digits), 0, 130)
    assert result == Valid(years)


@MANY
@given(typed)
def test_an_accepted_email_is_ascii_without_spaces_and_accepted_unchanged(s: str) -> None:
    result = email(s)
    if isinstance(result, Valid):
        assert result.value.isascii() and not any(c.isspace() for c in result.value)
        assert result.value.count("@") == 1
        assert email(result.value) == result


@MANY
@given(typed)
def test_an_accepted_phone_is_national_digits_and_its_display_form_is_accepted_again(s: str) -> None:
    result = phone(s)
    if isinstance(result, Valid):
        assert re.fullmatch(r"0[0-9]{9,10}", result.value)
        assert phone(format_phone(result.value)) == result


@MANY
@given(typed, st.integers(1, 500))
def test_accepted_consultation_text_is_storable_bounded_and_unchanged_when_sent_again(s: str, limit: int) -> None:
    result = consultation_text(s, limit)
    _judged(result)
    if isinstance(result, Valid):
        text = result.value
        assert 1 <= len(text) <= limit
        assert "\x00" not in text and "\r" not in text
        assert text.encode("utf-8")  # no lone surrogate: every database can store it
        assert consultation_text(text, limit) == result


@MANY
@given(st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=5),
       st.text(max_size=20))
def test_lone_surrogates_never_make_a_validator_fail(junk: str, s: str) -> None:
    mixed = "".join(itertools.chain.from_iterable(zip(s, itertools.cycle(junk)))) + junk
    for result in (full_name(mixed), furigana(mixed), age(mixed, 15, 39), email(mixed), phone(mixed),
                   consultation_text(mixed)):
        _judged(result)


# --- typed dates and times ----------------------------------------------------------------------

today = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))


@MANY
@given(typed, today)
def test_any_text_typed_for_a_day_is_a_date_or_nothing(s: str, on: date) -> None:
    day = parse_day(s, on)
    assert day is None or isinstance(day, date)


@MANY
@given(typed)
def test_any_text_typed_for_a_time_is_a_time_of_day_or_nothing(s: str) -> None:
    at = parse_time(s)
    assert at is None or isinstance(at, time)


@MANY
@given(today, st.integers(0, 360), st.sampled_from(["{m}/{d}", "{m}月{d}日", " {m} / {d} ", "{m}-{d}", "{m}.{d}",
                                                       "{m}月{d}日(水)"]), st.booleans())
def test_a_month_and_day_typed_in_any_usual_way_is_the_next_such_day(on: date, ahead: int, shape: str,
                                                                     wide: bool) -> None:
    wanted = on + timedelta(days=ahead)
    assume(not (wanted.month == 2 and wanted.day == 29))  # the next 29 February may be years away
    typed_day = shape.format(m=wanted.month, d=wanted.day)
    if wide:
        typed_day = typed_day.translate(str.maketrans("0123456789/-.", "０１２３４５６７８９／－．"))
    note(typed_day)
    assert parse_day(typed_day, on) == wanted


@MANY
@given(st.integers(0, 23), st.integers(0, 59), st.sampled_from(["{h}:{mm}", "{h}時{mm}分", "{h}{mm}", "{h}：{mm}"]),
       st.booleans())
def test_a_time_typed_in_any_usual_way_is_that_time(hour: int, minute: int, shape: str, wide: bool) -> None:
    typed_time = shape.format(h=hour, mm=f"{minute:02d}")
    assume(not (shape == "{h}{mm}" and hour == 0))  # "005" reads as 00:05 only by luck of the digits
    if wide:
        typed_time = typed_time.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    note(typed_time)
    assert parse_time(typed_time) == time(hour, minute)


@MANY
@given(st.integers(0, 23), st.booleans())
def test_an_hour_with_ji_or_ji_han_is_on_the_hour_or_half_past(hour: int, half: bool) -> None:
    assert parse_time(f"{hour}時{'半' if half else ''}") == time(hour, 30 if half else 0)


# --- the whole engine ---------------------------------------------------------------------------

STEPS = [None, "consent", "topic", "age", "date", "time", "name", "furigana", "email", "phone", "consultation",
         "attendant", "summary", "edit"]
DETAILS = [("name", "青木 一"), ("furigana", "アオキ ハジメ"), ("email", "hajime@example.jp"),
           ("phone", "090-1234-5678"), ("consultation", "転職の相談です"), ("attendant", "なし")]
_users = itertools.count(1)


def _first(chat: Chat, pattern: str) -> str:
    return next(label for label in chat.last.labels if re.fullmatch(pattern, label))


def reach(chat: Chat, step: str | None) -> None:
    """Take a new user to the question `step` of the booking flow (None: just added the account)."""
    chat.follow()
    if step is None:
        return
    if step == "consent":
        chat.send("予約したい")
        assert chat.last.flow == "consent", chat.last
        return
    chat.tap("同意する")
    chat.tap("相談を予約する")
    if step != "topic":
        chat.tap("キャリア・転職")
    if step not in ("topic", "age"):
        chat.send("25")
    if step not in ("topic", "age", "date"):
        chat.tap(_first(chat, r"\d+/\d+\(.\)"))
    if step not in ("topic", "age", "date", "time"):
        chat.tap(_first(chat, r"\d{1,2}:\d{2}"))
    for key, answer in DETAILS:
        if chat.last.step == step:
            break
        chat.send(answer)
    if step == "edit":
        chat.send("修正")
    assert (chat.last.flow, chat.last.step) == ("booking", step), (chat.last.step, chat.last.text)


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(step=st.sampled_from(STEPS), said=typed)
def test_any_text_at_any_step_of_the_booking_flow_gets_an_answer(chat, services, step, said) -> None:
    user = Chat(services, f"U{next(_users):032x}", TUESDAY_MORNING)
    reach(user, step)
    answer = user.send(said)
    assert answer.messages, f"no answer at {step} to {said[:80]!r}"
    # The user can always leave, and the held slot goes back for the next user.
    assert user.send("やめる").messages


def test_a_day_and_time_typed_in_words_or_full_width_digits_book_like_the_buttons(chat, services) -> None:
    user = Chat(services, f"U{next(_users):032x}", TUESDAY_MORNING)
    reach(user, "date")
    answer = user.send("あした")  # a relative day is not read: asked again, with an example
    assert (answer.step, "「12/1」のように" in answer.text) == ("date", True)
    answer = user.send("１２／２")
    assert answer.step == "time" and "12月2日(水)" in answer.text
    answer = user.send("１０時")
    assert answer.step == "name" and "10:00〜10:30 を仮予約しました（9:15まで）" in answer.text
    user.send("やめる")

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations.validators import (
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

# --- full name ---------------------------------------------------------------------------------


def test_full_width_space_between_family_and_given_name_becomes_one_ascii_space() -> None:
    assert full_name("  山田\u3000\u3000太郎 ") == Valid("山田 太郎")


def test_full_width_latin_name_is_normalised_to_ascii() -> None:
    assert full_name("ＴＡＲＯ　Ｙａｍａｄａ") == Valid("TARO Yamada")


@pytest.mark.parametrize("typed", ["", "   ", "\u3000", "12345", "!!!", "山田\x00太郎", "山田\u202e太郎", "山" * 41])
def test_name_without_letters_with_control_characters_or_too_long_is_asked_again(typed: str) -> None:
    result = full_name(typed)
    assert isinstance(result, Invalid)
    assert "例：山田 太郎" in result.reask


def test_name_of_exactly_forty_characters_is_accepted() -> None:
    assert full_name("山" * 40) == Valid("山" * 40)


# --- furigana ----------------------------------------------------------------------------------


def test_hiragana_reading_is_converted_to_katakana() -> None:
    assert furigana("やまだ たろう") == Valid("ヤマダ タロウ")


def test_half_width_katakana_with_voicing_marks_becomes_full_width() -> None:
    assert furigana("ｶﾞｯｺｳ ｼﾞﾛｰ") == Valid("ガッコウ ジロー")


def test_long_vowel_mark_middle_dot_and_full_width_space_are_kept_as_one_space() -> None:
    assert furigana("スミス・ジョーン\u3000\u3000ゔぁー") == Valid("スミス・ジョーン ヴァー")


@pytest.mark.parametrize("typed", ["山田 太郎", "Yamada", "ヤマダ1", "", "  ", "ア" * 41, "ヤマダ-タロウ"])
def test_reading_with_kanji_latin_digits_or_nothing_is_asked_again_in_katakana(typed: str) -> None:
    assert furigana(typed) == Invalid("フリガナはカタカナでご入力ください（例：ヤマダ タロウ）。")


# --- age ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["25", "２５", "25歳", "２５才", " 2 5 歳 "])
def test_age_is_read_from_half_or_full_width_digits_with_optional_sai(typed: str) -> None:
    assert age(typed, minimum=15, maximum=39) == Valid(25)


@pytest.mark.parametrize("typed", ["", "にじゅう", "25歳です", "-3", "2.5", "1" * 5000, "歳"])
def test_age_that_is_not_a_number_is_asked_again(typed: str) -> None:
    assert age(typed, minimum=15, maximum=39) == Invalid("年齢を数字でご入力ください（例：25）。")


def test_age_outside_the_served_range_is_turned_away_kindly_with_other_places_to_ask() -> None:
    result = age("40", minimum=15, maximum=39)
    assert isinstance(result, Ineligible)
    assert "15歳から39歳まで" in result.message
    assert "ハローワーク" in result.message


def test_range_limits_themselves_are_served() -> None:
    assert age("15", minimum=15, maximum=39) == Valid(15)
    assert age("39", minimum=15, maximum=39) == Valid(39)


# --- email -------------------------------------------------------------------------------------


def test_full_width_email_becomes_ascii_and_only_the_domain_is_lower_cased() -> None:
    assert email(" Ｔａｒｏ．Ｙａｍａｄａ＠Ｅｘａｍｐｌｅ．ＪＰ ") == Valid("Taro.Yamada@example.jp")


@pytest.mark.parametrize("typed", ["", "taro", "taro@", "taro@example", "たろう@example.jp", "a b@example.jp"])
def test_malformed_email_is_asked_again_with_an_example(typed: str) -> None:
    result = email(typed)
    assert isinstance(result, Invalid)
    assert "taro@example.jp" in result.reask


# --- phone -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("090-1234-5678", "09012345678"),
        ("０９０ー１２３４ー５６７８", "09012345678"),
        ("080‐1234−5678", "08012345678"),
        ("070―1234‑5678", "07012345678"),
        ("+81 90-1234-5678", "09012345678"),
        ("＋８１（０）９０–１２３４–５６７８", "09012345678"),
        ("050 1234 5678", "05012345678"),
        ("0120-123-456", "0120123456"),
        ("(03)1234-5678", "0312345678"),
    ],
)
def test_japanese_phone_numbers_are_normalised_to_national_digits(typed: str, digits: str) -> None:
    assert phone(typed) == Valid(digits)


@pytest.mark.parametrize(
    "typed",
    ["", "090-1234-567", "090-1234-56789", "+1 202 555 0123", "abc", "0570-123-456", "00000000000", "9" * 300],
)
def test_numbers_that_cannot_reach_the_user_in_japan_are_asked_again(typed: str) -> None:
    result = phone(typed)
    assert isinstance(result, Invalid)
    assert "090-1234-5678" in result.reask


def test_phone_is_displayed_with_hyphens_in_the_national_format() -> None:
    assert format_phone("09012345678") == "090-1234-5678"
    assert format_phone("0312345678") == "03-1234-5678"
    assert format_phone("0120123456") == "0120-123-456"


# --- consultation text -------------------------------------------------------------------------


def test_consultation_text_keeps_line_breaks_and_drops_surrounding_space() -> None:
    assert consultation_text("\u3000転職について\r\n相談したいです \n") == Valid("転職について\n相談したいです")


def test_consultation_text_over_the_limit_says_the_limit_and_the_length_sent() -> None:
    assert consultation_text("あ" * 512) == Invalid("ご相談内容は400文字以内でお願いします（現在512文字）。")


def test_consultation_text_at_the_limit_is_accepted_and_the_limit_is_configurable() -> None:
    assert consultation_text("あ" * 400) == Valid("あ" * 400)
    assert isinstance(consultation_text("あ" * 101, limit=100), Invalid)


def test_invisible_characters_the_database_cannot_store_are_dropped_from_consultation_text() -> None:
    assert consultation_text("転職\x00について\ud800\tです") == Valid("転職について\tです")


def test_empty_consultation_text_is_asked_again() -> None:
    assert isinstance(consultation_text(" \n\u3000 "), Invalid)


# --- properties --------------------------------------------------------------------------------

kana_digits_dashes = st.text(
    alphabet=st.sampled_from(
        list("アイウエオカガキャッヴｱｶﾞｯﾟあいうがぱゃっゔゝ0123456789０１２３４５６７８９")
        + list("‐-−ー―‑–ｰ・ 　+＋()（）歳才@＠.")
    ),
    max_size=30,
)
any_text = st.one_of(st.text(), kana_digits_dashes)
RESULTS = (Valid, Invalid, Ineligible)
# database=None: no .hypothesis/ folder left in the work tree; failures print their example.


@settings(max_examples=300, database=None)
@given(any_text)
def test_no_input_makes_any_validator_fail(typed: str) -> None:
    for result in (full_name(typed), furigana(typed), age(typed, 15, 39), email(typed), phone(typed),
                   consultation_text(typed)):
        assert isinstance(result, RESULTS)


@settings(max_examples=300, database=None)
@given(any_text)
def test_an_accepted_reading_is_accepted_unchanged_when_sent_again(typed: str) -> None:
    result = furigana(typed)
    if isinstance(result, Valid):
        assert furigana(result.value) == result


@settings(max_examples=300, database=None)
@given(st.one_of(st.text(), st.emails(), st.emails().map(lambda a: a.upper())))
def test_an_accepted_email_is_accepted_unchanged_when_sent_again(typed: str) -> None:
    result = email(typed)
    if isinstance(result, Valid):
        assert email(result.value) == result


@settings(max_examples=300, database=None)
@given(st.one_of(any_text, st.from_regex(r"(\+81|0)[789]0[-ー ]?[0-9]{4}[-‐ ]?[0-9]{4}", fullmatch=True)))
def test_an_accepted_phone_number_is_accepted_unchanged_when_sent_again(typed: str) -> None:
    result = phone(typed)
    if isinstance(result, Valid):
        assert phone(result.value) == result
        assert result.value.isascii() and result.value.isdigit() and result.value.startswith("0")

"""Validators and normalisers for the booking intake.

Each takes whatever the user typed and returns `Valid(value)` with the normalised value, or
`Invalid(reask)` with a short polite message asking again (with an example). `age` can also
return `Ineligible(message)`: the answer was understood, but the desk cannot serve that person.
None of them raises, whatever the input: the flow shows the message and waits for the next try.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Generic, TypeVar

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from conversations.normalise import is_question

T = TypeVar("T")


@dataclass(frozen=True)
class Valid(Generic[T]):
    value: T


@dataclass(frozen=True)
class Invalid:
    reask: str


@dataclass(frozen=True)
class Ineligible:
    message: str
    # Which side of the range: the flow refers someone older elsewhere than someone younger.
    too_old: bool = False


NAME_MAX = 40
FURIGANA_MAX = 40
# One-line answers longer than this are refused before any normalisation, so a pasted essay
# costs nothing; LINE itself allows 5000 characters a message.
_ONE_LINE_RAW_MAX = 1000

# Cc control, Cf format (zero-width and bidi overrides hide text in the operator's screens),
# Cs surrogates, Co private use: none belongs in a name someone reads back over the phone.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def _collapse_spaces(s: str) -> str:
    # str.split() knows every Unicode space, U+3000 included.
    return " ".join(s.split())


def full_name(s: str) -> Valid[str] | Invalid:
    reask = "お名前を40文字以内でご入力ください（例：山田 太郎）。"
    if len(s) > _ONE_LINE_RAW_MAX:
        return Invalid(reask)
    name = _collapse_spaces(_nfkc(s))
    if not 1 <= len(name) <= NAME_MAX:
        return Invalid(reask)
    categories = [unicodedata.category(c) for c in name]
    if any(cat in _FORBIDDEN_CATEGORIES for cat in categories):
        return Invalid(reask)
    if not any(cat.startswith("L") for cat in categories) or is_question(name):
        return Invalid(reask)
    return Valid(name)


_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)} | {
    0x309D: 0x30FD,  # ゝ -> ヽ
    0x309E: 0x30FE,  # ゞ -> ヾ
}
# Katakana ァ..ヺ, the middle dot ・, the long-vowel mark ー, the iteration marks ヽヾ, and the
# single ASCII space that separates family and given names.
_FURIGANA = re.compile(r"[\u30A1-\u30FA\u30FB\u30FC\u30FD\u30FE ]+")


def furigana(s: str) -> Valid[str] | Invalid:
    """A reading in full-width katakana; spaces become one ASCII space, as NFKC makes U+3000."""
    reask = "フリガナはカタカナでご入力ください（例：ヤマダ タロウ）。"
    if len(s) > _ONE_LINE_RAW_MAX:
        return Invalid(reask)
    # NFKC first: it joins half-width kana with their voicing marks (ｶﾞ -> ガ).
    reading = _collapse_spaces(_nfkc(s).translate(_HIRAGANA_TO_KATAKANA))
    if not 1 <= len(reading) <= FURIGANA_MAX or not _FURIGANA.fullmatch(reading) or is_question(reading):
        return Invalid(reask)
    return Valid(reading)


_AGE = re.compile(r"([0-9]{1,3})[歳才]?")
# Beyond this the number is a typo, not an age: ask again instead of turning the person away.
_AGE_PLAUSIBLE_MAX = 130


def age(s: str, minimum: int, maximum: int) -> Valid[int] | Invalid | Ineligible:
    reask = "年齢を数字でご入力ください（例：25）。"
    if len(s) > _ONE_LINE_RAW_MAX:
        return Invalid(reask)
    compact = "".join(_nfkc(s).split())
    match = _AGE.fullmatch(compact)
    # Limiting to three digits also keeps int() clear of its huge-string guard.
    if not match or int(match.group(1)) > _AGE_PLAUSIBLE_MAX:
        return Invalid(reask)
    years = int(match.group(1))
    if not minimum <= years <= maximum:
        return Ineligible(
            f"申し訳ありません。この窓口は{minimum}歳から{maximum}歳までの方を対象としています。"
            "お近くのハローワークや、都道府県の総合相談窓口へのご相談をご検討ください。",
            too_old=years > maximum,
        )
    return Valid(years)


def email(s: str) -> Valid[str] | Invalid:
    reask = "メールアドレスをご確認のうえ、もう一度ご入力ください（例：taro@example.jp）。"
    if len(s) > _ONE_LINE_RAW_MAX:
        return Invalid(reask)
    address = _nfkc(s).strip()
    try:
        # No SMTPUTF8: kana before the @ is almost always the input mode left on by mistake,
        # and the desk's mail relay may not deliver such addresses anyway.
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return Invalid(reask)
    # email-validator keeps the local part as typed and lower-cases the domain.
    return Valid(checked.normalized)


# Every dash a Japanese keyboard or IME produces, after NFKC (which folds U+2011 and U+FF0D).
_DASHES = "-\u2010\u2012\u2013\u2014\u2015\u2212\u30FC\uFE63"
_PHONE_NOISE = str.maketrans("", "", _DASHES + "()")
_PHONE_TYPES = {
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.TOLL_FREE,
}


def _phone_digits(s: str) -> str | None:
    """Digits-only national form (0...), or None when the text is not a Japanese number."""
    compact = "".join(_nfkc(s).split()).translate(_PHONE_NOISE)
    if compact.startswith("+81"):
        rest = compact[3:]
        # "+81 (0)90-..." is common: the 0 written after the country code is not doubled.
        compact = rest if rest.startswith("0") else "0" + rest
    if not re.fullmatch(r"0[0-9]{9,10}", compact):
        return None
    return compact


def phone(s: str) -> Valid[str] | Invalid:
    reask = "電話番号をご確認のうえ、もう一度ご入力ください（例：090-1234-5678）。"
    if len(s) > _ONE_LINE_RAW_MAX:
        return Invalid(reask)
    digits = _phone_digits(s)
    if digits is None:
        return Invalid(reask)
    try:
        number = phonenumbers.parse(digits, "JP")
    except phonenumbers.NumberParseException:
        return Invalid(reask)
    # Premium-rate, pager and shared-cost (0570) numbers cannot reach the person who booked.
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in _PHONE_TYPES:
        return Invalid(reask)
    return Valid(digits)


def format_phone(digits: str) -> str:
    """Display form with hyphens (090-1234-5678); the input itself if it cannot be parsed."""
    try:
        number = phonenumbers.parse(digits, "JP")
    except phonenumbers.NumberParseException:
        return digits
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


# Invisible to the user and refused by the database (NUL, lone surrogates): dropped, not re-asked.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def consultation_text(s: str, limit: int = 400) -> Valid[str] | Invalid:
    # One line break is one character for the user, whatever their device sent.
    text = _UNSTORABLE.sub("", s.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        return Invalid("ご相談内容をご入力ください（例：転職を考えていますが、何から始めればよいか知りたいです）。")
    if len(text) > limit:
        return Invalid(f"ご相談内容は{limit}文字以内でお願いします（現在{len(text)}文字）。")
    return Valid(text)

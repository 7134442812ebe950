"""Normalisers the staging SQL calls: text, names, e-mails, AU phones, ABNs and folded names.

Every function here is pure and total: it never raises (whatever the input, ``None`` and any unicode
included), returns ``None`` when there is nothing usable, and is idempotent (``f(f(x)) == f(x)`` where
the output is of the input's kind). Domains and free mail are in transform/domains.py.
``transform.sql.register_normalisers(con)`` exposes each to DuckDB as ``cx_<name>``: a macro
(transform/sql/normalise.sql) that answers the common shapes in SQL and asks these functions the rest.

Plain Python on purpose (no dagster import): staging SQL, pandera checks and tests all call the same
code. ``abn_problem`` names the rule a bad ABN breaks, for the quarantine table.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

import phonenumbers

__all__ = [
    "ABN_PROBLEMS",
    "ABN_WEIGHTS",
    "HOST_RE",
    "LEGAL_SUFFIXES",
    "abn",
    "abn_problem",
    "clean_name",
    "clean_text",
    "email",
    "email_domain",
    "fold_name",
    "phone_e164",
    "phone_e164_au",
    "phone_e164_au_or_blank",
]

# ----------------------------------------------------------------------------------------------- text

# Inside a value, a control character that separates (tab, line and page breaks) becomes a space and
# any other (NUL, ESC, DEL, the C1 controls) goes, with the rest of a terminal escape sequence
# (ESC [ ... final byte, or the one-byte CSI): Xero would store and show them as they are.
_ESCAPE_SEQUENCE_RE = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]")
_SEPARATING_CONTROLS = "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029"
_CONTROLS = str.maketrans(
    {
        **{code: None for code in [*range(0x20), *range(0x7F, 0xA0)]},
        **{ord(char): " " for char in _SEPARATING_CONTROLS},
    }
)
# Blank "letters" (Hangul fillers, the braille blank) that render as nothing: used to fake a name.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _invisible(char: str) -> bool:
    """Whitespace, a control or format character (zero-width space and joiners, bidi marks, the BOM,
    the soft hyphen) or a blank letter: nothing a reader sees at either end of a value."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf") or char in _BLANK_LETTERS


def clean_text(value: Any) -> str | None:
    """Text as it may be compared and sent to Xero: NFC, controls gone, nothing invisible at the ends.

    Separating controls inside become spaces and other controls (and terminal escape sequences) go;
    then NFC (so "Café" typed composed or decomposed is one value); then whitespace, controls,
    zero-width and other format characters are stripped from both ends. None when nothing is left.
    Inner format characters stay: a zero-width joiner inside a word is part of some scripts.
    """
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFC", _ESCAPE_SEQUENCE_RE.sub("", value).translate(_CONTROLS))
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end] or None


def clean_name(value: Any) -> str | None:
    """A name as it may be compared and sent: ``clean_text`` with every run of whitespace one space
    (Xero is reported to refuse a Name with repeated spaces: docs/api-facts.md#xero-contact-fields-and-limits)."""
    text = clean_text(value)
    if text is None:
        return None
    return " ".join(text.split()) or None


# --------------------------------------------------------------------------------------------- e-mail

# A host name: dot-separated ASCII labels (letters, digits, inner hyphens), a top-level domain of
# at least two letters (or an IDNA ``xn--`` label). Lower case only: callers lower-case first.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_RE = re.compile(rf"(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})")
# The local part: printable ASCII except whitespace, "@", quotes, brackets and separators that no
# mailbox a person types would contain; dot rules are checked separately.
_LOCAL_RE = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+")


def email(value: Any) -> str | None:
    """The address trimmed and lower-cased, or None unless it is plausible.

    Plausible: exactly one ``@``, a non-empty local part, a domain with a dot and a top-level domain
    of letters, no whitespace, no consecutive dots, no leading or trailing dot on either side. ASCII
    only (Xero accepts ASCII addresses only), so a unicode address is quarantined, not mangled.
    Invisible characters at the ends and controls inside go first (``clean_text``).
    """
    cleaned = clean_text(value)
    if cleaned is None:
        return None
    text = cleaned.lower()
    if not text.isascii() or text.count("@") != 1:
        return None
    local, _, domain = text.partition("@")
    if not _LOCAL_RE.fullmatch(local) or ".." in local or local.startswith(".") or local.endswith("."):
        return None
    if len(text) > 254 or not HOST_RE.fullmatch(domain):
        return None
    return text


def email_domain(value: Any) -> str | None:
    """The domain of a plausible e-mail address (lower case), else None."""
    address = email(value)
    return address.partition("@")[2] if address else None


# ---------------------------------------------------------------------------------------------- phone

# Characters a typed phone number may hold (after NFKC, which turns full-width digits into ASCII).
# Letters (N/A, TBC, "or", "ext") make it garbage: quarantined, never guessed at.
_PHONE_CHARS_RE = re.compile(r"[0-9+()\-./ \t]+")


def phone_e164(value: Any, default_region: str = "AU", *, strict: bool = False) -> str | None:
    """The number in E.164 (``+61298765432``) when it is a possible and valid number, else None.

    Parsed with Google's libphonenumber metadata, national numbers in ``default_region``. 1300/1800
    and 13 xx xx numbers are valid AU numbers and kept (``+611300123456``, ``+61131234``); a trunk
    ``(0)`` after ``+61`` is dropped; ``00`` + country code is read as ``+``. An 8-digit number
    without an area code is not valid in AU, so it is None (the caller may infer the area from the
    address and retry), as are letters, two numbers in one field and wrong lengths.

    libphonenumber's "valid" means "in a range allocated when the metadata was cut": it rejects, e.g.,
    ``0441 …`` mobiles and some ``02 4…``/``02 5…`` exchanges, numbers the sandbox (and the earlier
    sync, which wrote them to Xero) treat as ordinary. Unless ``strict``, a possible +61 number whose
    national part has the complete shape of an AU mobile or geographic number (9 digits, first digit
    2, 3, 4, 7 or 8) is kept as well: the digits say unambiguously which number is meant; only the
    allocation is in doubt, and quarantining it would make every sync "change" that phone.
    """
    if not isinstance(value, str) or not isinstance(default_region, str) or not isinstance(strict, bool):
        return None
    return _phone_e164(clean_text(value) or "", default_region.upper(), strict)


_AU_NATIONAL_SHAPE_RE = re.compile(r"[23478]\d{8}")


@functools.lru_cache(maxsize=65536)
def _phone_e164(value: str, region: str, strict: bool) -> str | None:
    text = unicodedata.normalize("NFKC", value).strip()
    if not text or len(text) > 40 or not _PHONE_CHARS_RE.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    if not 3 <= len(digits) <= 17 or text.count("+") > 1 or ("+" in text and not text.startswith("+")):
        return None
    if text.startswith("00") and not digits.startswith("0011"):
        text = "+" + text[2:]  # 0061 … : the European international prefix, common in typed numbers
    if region == "AU" and not strict:
        answer = _au_fast_answer(text)
        if answer is not _ASK_LIBPHONENUMBER:
            return answer
    return _parse_phone(text, region, strict)


# Fast paths for the common AU shapes (~20x faster than libphonenumber), read without separators:
# (+61 | +61 0 | 0 | nothing) and nine digits starting 2, 3, 4, 7 or 8 (possible, and kept valid or
# not: see phone_e164); 1300/1800 and 13 xx xx numbers, with or without +61 (valid throughout); eight
# digits without an area code (never valid; "61…" excluded, libphonenumber reads some as +61 13 …).
# Each gives exactly what _parse_phone gives: every four-digit prefix was compared, and
# tests/transform/test_normalise.py keeps comparing with hypothesis. transform/sql/normalise.sql mirrors them.
_AU_FAST_RE = re.compile(r"(?:\+610?|0)?([23478]\d{8})|(?:\+61)?(1[38]00\d{6}|13\d{4})")
_AU_NO_AREA_CODE_RE = re.compile(r"(?:[2-57-9]\d|6[02-9])\d{6}")
_PHONE_SEPARATORS_RE = re.compile(r"[ \t().\-/]+")
_ASK_LIBPHONENUMBER = object()


def _au_fast_answer(text: str) -> str | object | None:
    """phone_e164's answer for a checked, AU, non-strict ``text`` of a common shape, else _ASK_LIBPHONENUMBER."""
    national = _PHONE_SEPARATORS_RE.sub("", text)
    fast = _AU_FAST_RE.fullmatch(national)
    if fast:
        return "+61" + (fast.group(1) or fast.group(2))
    if _AU_NO_AREA_CODE_RE.fullmatch(national):
        return None
    return _ASK_LIBPHONENUMBER


def _parse_phone(text: str, region: str, strict: bool) -> str | None:
    """The libphonenumber reading of a pre-cleaned number (the slow path)."""
    try:
        number = phonenumbers.parse(text, region)
        if not phonenumbers.is_possible_number(number):
            return None
        if not phonenumbers.is_valid_number(number) and (
            strict
            or number.country_code != 61
            or number.italian_leading_zero
            or not _AU_NATIONAL_SHAPE_RE.fullmatch(str(number.national_number))
        ):
            return None
        formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        # Short pager numbers (``+6116300``) are valid but no contact phone: E.164 here has 8+ digits.
        return formatted if len(formatted) >= 9 else None
    except Exception:  # NumberParseException, or anything the metadata lookup throws on odd input
        return None


def phone_e164_au(value: Any) -> str | None:
    """``phone_e164`` with the AU default, one argument (DuckDB counts the Python parameters)."""
    return phone_e164(value)


def phone_e164_au_or_blank(value: Any) -> str:
    """``phone_e164_au`` with "" for no number: the SQL fast path's fallback (transform/sql/normalise.sql)."""
    return phone_e164(value) or ""


# ------------------------------------------------------------------------------------------------ ABN

ABN_WEIGHTS: tuple[int, ...] = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)
# The rules abn_problem can name, in the order they are checked.
ABN_PROBLEMS: tuple[str, ...] = ("not digits", "not 11 digits", "starts with 0", "checksum fails")
_ABN_PREFIX_RE = re.compile(r"^\s*abn\s*[:#.]?\s*", re.IGNORECASE)
_ABN_SEPARATORS_RE = re.compile(r"[\s\-./_]+")


def _abn_digits(value: Any) -> str | None:
    """The text without an ``ABN``/``ABN:`` prefix and separators; None when nothing is left."""
    value = clean_text(value)
    if value is None:
        return None
    text = _ABN_SEPARATORS_RE.sub("", _ABN_PREFIX_RE.sub("", unicodedata.normalize("NFKC", value)))
    return text or None


def abn_problem(value: Any) -> str | None:
    """The rule a typed ABN breaks (one of ``ABN_PROBLEMS``), or None when it is valid or blank.

    Blank (None, empty, only spaces) is "no ABN", not a bad one: nothing to quarantine.
    """
    text = _abn_digits(value)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        return "not digits"
    if len(text) != 11:
        return "not 11 digits"
    if text[0] == "0":
        return "starts with 0"
    total = sum(int(d) * w for d, w in zip(text, ABN_WEIGHTS, strict=True)) - ABN_WEIGHTS[0]
    return None if total % 89 == 0 else "checksum fails"


def abn(value: Any) -> str | None:
    """The ABN as 11 digits when, without an ``ABN`` prefix and separators, it passes the ABR checksum.

    Checksum: subtract 1 from the first digit, weight the digits 10, 1, 3, 5, ..., 19, sum mod 89 == 0.
    """
    text = _abn_digits(value)
    if text is None or abn_problem(text) is not None:
        return None
    return text


# ----------------------------------------------------------------------------------------------- name

# Legal-form words dropped from the end of a folded name (in any order and combination, so "pty ltd",
# "pty. limited", "proprietary limited", "co. pty ltd" all go); "the" dropped from the start.
LEGAL_SUFFIXES: frozenset[str] = frozenset(
    {
        "pty",
        "ltd",
        "limited",
        "proprietary",
        "inc",
        "incorporated",
        "co",
        "company",
        "corp",
        "corporation",
        "llc",
        "plc",
    }
)
# Latin letters NFKD does not decompose (after casefold).
_LATIN_EXTRA = str.maketrans(
    {
        "đ": "d",
        "ð": "d",
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ł": "l",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
        "ŋ": "n",
    }
)
_APOSTROPHES = str.maketrans("", "", "'’‘`´ʼ")


def fold_name(value: Any) -> str | None:
    """A name folded for matching: no case, accents, punctuation or legal form; None when empty.

    NFKD, accents dropped from Latin letters (Zoë → zoe, Nguyễn → nguyen, Tāmati → tamati, Đặng →
    dang), casefold, "&" → "and", apostrophes removed, other punctuation → spaces, whitespace
    collapsed, legal-form words (``LEGAL_SUFFIXES``) stripped from the end and "the" from the start
    (never the last word). Non-Latin scripts (CJK, Hangul, kana, Devanagari ...) keep their characters
    and marks. "Harbourside Joinery Pty Ltd" == "HARBOURSIDE JOINERY PTY. LIMITED" == "Harbourside
    Joinery"; "Smith & Sons" == "Smith and Sons". The name is ``clean_text`` first, and format
    characters inside (zero-width joiners, bidi marks) are dropped: "Ac\u200bme" is "acme".
    """
    value = clean_text(value)
    if value is None:
        return None
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", value).casefold())
    text = text.translate(_LATIN_EXTRA).translate(_APOSTROPHES).replace("&", " and ")
    chars: list[str] = []
    base_is_latin = True
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        if category[0] == "M":
            if not base_is_latin:  # a mark of a non-Latin script is part of the letter
                chars.append(char)
            continue
        keep = category[0] in "LN"
        base_is_latin = not keep or ord(char) < 0x0370  # a mark on punctuation goes with it
        chars.append(char if keep else " ")
    tokens = unicodedata.normalize("NFC", "".join(chars)).split()
    while len(tokens) > 1 and (tokens[0] == "the" or tokens[-1] in LEGAL_SUFFIXES):
        if tokens[0] == "the":
            tokens.pop(0)
        else:
            tokens.pop()
    return " ".join(tokens) or None

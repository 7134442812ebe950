"""Text helpers: name folding, ASCII transliteration, slugs, and Capsule's timestamp format.

``fold_name`` is the generator's own notion of "the same name" (case, accents, "Pty Ltd" /
"Pty. Limited", "&" / "and", punctuation). It is deliberately at least as aggressive as any sensible
matcher's folding, so names the generator calls different stay different under the project's staging
rules, and the name-variant pairs it produces fold equal under any of them.
"""

from __future__ import annotations

import calendar
import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta

# Letters NFKD does not decompose.
_TRANSLIT = str.maketrans(
    {
        "đ": "d",
        "Đ": "D",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "æ": "ae",
        "Æ": "AE",
        "ß": "ss",
        "œ": "oe",
        "Œ": "OE",
        "þ": "th",
        "ð": "d",
    }
)
_LEGAL_WORDS = frozenset(
    {"pty", "ltd", "limited", "proprietary", "the", "and", "co", "company", "inc", "incorporated", "p", "l"}
)
_NON_WORD = re.compile(r"[^\w]+")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ascii_fold(text: str) -> str:
    """Strip accents and macrons ("Café Ōtautahi" -> "Cafe Otautahi"); non-Latin scripts are dropped."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    return (
        "".join(ch for ch in decomposed if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()
    )


def strip_accents(text: str) -> str:
    """Like ``ascii_fold`` but keeps non-Latin letters (CJK stays CJK)."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold_name(name: str) -> str:
    """Case-, accent-, punctuation- and legal-suffix-insensitive key for a party or contact name."""
    words = _NON_WORD.split(strip_accents(name).casefold().replace("&", " and "))
    return " ".join(w for w in words if w and w not in _LEGAL_WORDS and w != "_")


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits only: "Smith & Sons Pty Ltd" -> "smithsons"."""
    words = re.split(r"[^a-z0-9]+", ascii_fold(text).lower())
    return "".join(w for w in words if w and w not in _LEGAL_WORDS)


def email_local(text: str) -> str:
    """An e-mail local-part word from a name: "O'Brien" -> "obrien", "van der Berg" -> "vanderberg"."""
    return re.sub(r"[^a-z0-9]+", "", ascii_fold(text).lower())


def iso(ts: int) -> str:
    """Capsule's timestamp form: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def iso_date(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def parse_iso(text: str) -> int:
    """Epoch seconds of a ``YYYY-MM-DDTHH:MM:SSZ`` timestamp."""
    if len(text) != 20 or text[10] != "T" or text[19] != "Z":
        raise ValueError(f"not a Capsule timestamp: {text!r}")
    fields = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
    return calendar.timegm(tuple(int(f) for f in fields))


def utc_ms(ms: int) -> datetime:
    """An aware UTC datetime for an epoch-milliseconds value (exact: no float rounding)."""
    return EPOCH + timedelta(milliseconds=ms)

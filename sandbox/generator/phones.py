"""Australian phone numbers in the many ways people type them, and a strict E.164 reading of the clean ones.

Every generated number comes from one *format label*; the labels are the ``phone_*`` cases of
CASES.md. ``CLEAN_FORMATS`` are the ones that say unambiguously which E.164 number they mean; records an
earlier sync wrote to Xero only ever carry those.
"""

from __future__ import annotations

import random
import re

from sandbox.generator.words import AREA_CODES, LOCAL_FIRST_DIGITS

FORMATS: tuple[str, ...] = (
    "mobile_local",  # 0412 345 678 / 0412345678 / 04 1234 5678
    "mobile_international",  # +61 412 345 678 / +61412345678 / 0061 412 345 678
    "landline_parenthesised",  # (02) 9876 5432
    "landline_spaced",  # 02 9876 5432 / 0298765432
    "landline_dashed",  # 02-9876-5432
    "landline_international",  # +61 2 9876 5432
    "landline_trunk_zero",  # +61 (0)2 9876 5432
    "landline_no_area_code",  # 9876 5432 (area implied by the address, if any)
    "local_rate_1300_1800",  # 1300 123 456 / 1800 123 456
    "local_rate_13",  # 13 12 34
    "overseas",  # +64 9 555 1234 (New Zealand)
    "garbage",  # N/A, call reception, 0412 345, TBC ...
)
CLEAN_FORMATS: tuple[str, ...] = (
    "mobile_local",
    "mobile_international",
    "landline_parenthesised",
    "landline_spaced",
    "landline_international",
)
MOBILE_FORMATS = frozenset({"mobile_local", "mobile_international"})

_GARBAGE = (
    "N/A",
    "call reception",
    "0412 345",
    "ext. 204",
    "TBC",
    "+61",
    "see email",
    "12345678901234567890",
    "0412 345 678 or 0413 111 222",
    "ph: ask for Dave",
    "-",
    "0000 000 000",
)


def _mobile_digits(rng: random.Random) -> str:
    return f"4{rng.randrange(10, 100):02d}{rng.randrange(10**6):06d}"  # 9 digits after the trunk 0


def _local_digits(rng: random.Random, area: str) -> str:
    return rng.choice(LOCAL_FIRST_DIGITS[area]) + f"{rng.randrange(10**7):07d}"


def make(rng: random.Random, label: str, state: str | None) -> str:
    """A number typed in the style ``label``; landlines use the area code of ``state`` (default NSW)."""
    area = AREA_CODES.get(state or "NSW", "2")
    if label == "mobile_local":
        m = _mobile_digits(rng)
        style = rng.randrange(4)
        if style == 0:
            return f"0{m}"
        if style == 1:
            return f"0{m[0]} {m[1:5]} {m[5:]}"
        return f"0{m[:3]} {m[3:6]} {m[6:]}"
    if label == "mobile_international":
        m = _mobile_digits(rng)
        style = rng.randrange(4)
        if style == 0:
            return f"+61{m}"
        if style == 1:
            return f"0061 {m[:3]} {m[3:6]} {m[6:]}"
        return f"+61 {m[:3]} {m[3:6]} {m[6:]}"
    if label in ("landline_no_area_code", "garbage", "local_rate_1300_1800", "local_rate_13", "overseas"):
        return _odd(rng, label, area)
    local = _local_digits(rng, area)
    a, b = local[:4], local[4:]
    if label == "landline_parenthesised":
        return f"(0{area}) {a} {b}"
    if label == "landline_spaced":
        return f"0{area}{local}" if rng.random() < 0.25 else f"0{area} {a} {b}"
    if label == "landline_dashed":
        return f"0{area}-{a}-{b}"
    if label == "landline_international":
        return f"+61 {area} {a} {b}"
    if label == "landline_trunk_zero":
        return f"+61 (0){area} {a} {b}" if rng.random() < 0.7 else f"+61 (0{area}) {a} {b}"
    raise ValueError(f"unknown phone format {label!r}")


def _odd(rng: random.Random, label: str, area: str) -> str:
    if label == "landline_no_area_code":
        local = _local_digits(rng, area)
        return f"{local[:4]} {local[4:]}"
    if label == "local_rate_1300_1800":
        prefix = rng.choice(("1300", "1800"))
        rest = f"{rng.randrange(10**6):06d}"
        return (
            f"{prefix} {rest[:3]} {rest[3:]}"
            if rng.random() < 0.8
            else f"{prefix} {rest[:2]} {rest[2:4]} {rest[4:]}"
        )
    if label == "local_rate_13":
        rest = f"{rng.randrange(10**4):04d}"
        return f"13 {rest[:2]} {rest[2:]}"
    if label == "overseas":
        return f"+64 9 {rng.randrange(300, 1000)} {rng.randrange(10**4):04d}"
    return rng.choice(_GARBAGE)


def to_e164(number: str) -> str | None:
    """E.164 for an unambiguous Australian mobile or landline (``+61…``); None for anything else."""
    text = number.strip()
    if text.startswith(("+61", "0061")):
        text = re.sub(r"\(0(\d)\)", r"\1", text).replace("(0)", "")  # +61 (02) … / +61 (0)2 …
    digits = re.sub(r"\D", "", text)
    if text.startswith(("+61", "0061")):
        national = digits[2:] if text.startswith("+") else digits[4:]
    elif digits.startswith("0") and len(digits) == 10:
        national = digits[1:]
    else:
        return None
    if len(national) == 9 and national[0] in "23478":
        return "+61" + national
    return None

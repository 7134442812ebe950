"""Australian Business Numbers: the ABR checksum, and valid, invalid and malformed ABNs on demand.

Checksum (ABR): subtract 1 from the first digit, multiply the 11 digits by 10, 1, 3, 5, 7, 9, 11, 13,
15, 17, 19, sum; the ABN is valid when the sum is divisible by 89. ``51 824 753 556`` is the ATO's
published example.
"""

from __future__ import annotations

import random
import re

WEIGHTS = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)

# For each remainder of the 9-digit tail's weighted sum, the two-digit prefixes (10..99) that fix it.
_PREFIXES_BY_NEED: dict[int, list[str]] = {}
for _prefix in range(10, 100):
    _contribution = WEIGHTS[0] * (_prefix // 10 - 1) + WEIGHTS[1] * (_prefix % 10)
    _PREFIXES_BY_NEED.setdefault(_contribution % 89, []).append(f"{_prefix:02d}")


def digits_of(value: str) -> str:
    return re.sub(r"\D", "", value)


def is_valid(value: str) -> bool:
    """True when ``value`` (any formatting) holds exactly 11 digits that pass the ABR checksum."""
    digits = digits_of(value)
    if len(digits) != 11 or digits[0] == "0":
        return False
    total = (int(digits[0]) - 1) * WEIGHTS[0]
    total += sum(int(d) * w for d, w in zip(digits[1:], WEIGHTS[1:], strict=True))
    return total % 89 == 0


def make_valid(rng: random.Random) -> str:
    """A random valid ABN as 11 plain digits."""
    while True:
        tail = f"{rng.randrange(10**9):09d}"
        tail_sum = sum(int(d) * w for d, w in zip(tail, WEIGHTS[2:], strict=True))
        choices = _PREFIXES_BY_NEED.get((-tail_sum) % 89)
        if choices:
            return rng.choice(choices) + tail


def make_invalid_checksum(rng: random.Random) -> str:
    """11 digits that fail the checksum: a valid ABN with its last digit changed (19·δ is never ≡ 0 mod 89)."""
    valid = make_valid(rng)
    last = (int(valid[-1]) + rng.randrange(1, 10)) % 10
    return valid[:-1] + str(last)


def spaced(digits: str) -> str:
    """The usual 2-3-3-3 grouping: ``51 824 753 556``."""
    return f"{digits[:2]} {digits[2:5]} {digits[5:8]} {digits[8:]}"


def odd_format(digits: str, rng: random.Random) -> str:
    """Valid digits typed some other way a person might: dashes, an "ABN" prefix, stray spaces, dots."""
    style = rng.randrange(5)
    if style == 0:
        return f"{digits[:2]}-{digits[2:5]}-{digits[5:8]}-{digits[8:]}"
    if style == 1:
        return f"ABN {spaced(digits)}"
    if style == 2:
        return f" {digits[:5]} {digits[5:]} "
    if style == 3:
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}.{digits[8:]}"
    return f"ABN: {digits}"


def wrong_length(rng: random.Random) -> str:
    """Not 11 digits: an ACN (9 digits) typed in the ABN field, a digit dropped, or one added."""
    style = rng.randrange(3)
    if style == 0:
        acn = f"{rng.randrange(10**8, 10**9):09d}"
        return f"{acn[:3]} {acn[3:6]} {acn[6:]}"
    if style == 1:
        return spaced(make_valid(rng))[:-1]
    return spaced(make_valid(rng)) + str(rng.randrange(10))

"""How an error message echoes a value from the rules file: quoted, and cut short when long."""

from __future__ import annotations

from typing import Any

# An echoed value is cut to this many characters: an error names the value, never prints it whole.
SHOWN_CHARACTERS = 60


def cut(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``text``, or its start and how long it is: a 5 MB value must not reach the terminal whole."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def show(value: Any) -> str:
    if isinstance(value, str):
        if len(value) > SHOWN_CHARACTERS:
            return f'"{value[:SHOWN_CHARACTERS]}…" ({len(value):,} characters)'
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)

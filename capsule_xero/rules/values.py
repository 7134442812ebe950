"""The value types of the rules file: YAML's numbers and dates read as text, one-or-many lists, e-mails."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from capsule_xero.rules.echo import show


def _as_text(value: Any) -> Any:
    """YAML reads `30`, `true` and `2024-07-01` as numbers, booleans and dates; the rules mean the text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def one_or_many(value: Any) -> Any:
    """`tag: Staff` and `tag: [Staff, Family]` both read as a list."""
    value = _as_text(value)
    return [value] if isinstance(value, str) else value


def _not_blank(value: Any) -> Any:
    value = _as_text(value)
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
    return value


def no_repeats(names: list[str]) -> list[str]:
    seen: set[str] = set()
    for name in names:
        if name.casefold() in seen:
            raise ValueError(f"{show(name)} is listed twice")
        seen.add(name.casefold())
    return names


def _an_email(value: str) -> str:
    if "@" not in value:
        raise ValueError(
            f"{show(value)} is not an e-mail address (owners are matched by their Capsule user's e-mail)"
        )
    return value


Text = Annotated[str, BeforeValidator(_as_text)]
Name = Annotated[str, BeforeValidator(_not_blank)]
Names = Annotated[list[Name], BeforeValidator(one_or_many), Field(min_length=1), AfterValidator(no_repeats)]
Emails = Annotated[
    list[Annotated[Name, AfterValidator(_an_email)]],
    BeforeValidator(one_or_many),
    Field(min_length=1),
    AfterValidator(no_repeats),
]

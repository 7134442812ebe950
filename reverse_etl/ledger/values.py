"""Field values as plans and the ledger hold them: the canonical text of the contact shape
(transform/sql/reconcile/README.md, "The contact shape"), where addresses, persons and groups are JSON
text and null means empty."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def canonical(value: Any) -> str | None:
    """A canonical field value as text (JSON values of addresses, persons, groups stay JSON text)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def group_names(value: Any) -> list[str]:
    """The group names of a canonical ``contact_groups`` value (JSON text of a sorted list)."""
    text = canonical(value)
    if not text:
        return []
    names = json.loads(text)
    return [str(n) for n in names] if isinstance(names, list) else []


def groups_value(names: Iterable[str]) -> str | None:
    """Canonical ``contact_groups``: sorted, distinct, null when none (transform/sql/macros.sql cx_groups_json)."""
    unique = sorted(set(names))
    return canonical(unique) if unique else None

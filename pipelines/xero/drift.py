"""Schema drift: fields Xero sent that its spec does not document, or documented fields of another type.

Loaded anyway (dlt adds the column), recorded in ``raw.xero_schema_drift`` and logged once per run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pipelines.xero.settings import ARRAY, BOOLEAN, DATE, NUMBER, OBJECT, STRING

log = logging.getLogger("pipelines.xero")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float | Decimal):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, datetime | date):
        return DATE
    if isinstance(value, list):
        return ARRAY
    if isinstance(value, dict):
        return OBJECT
    return type(value).__name__


def _fits(expected: str, observed: str) -> bool:
    return expected == observed or (expected == DATE and observed == STRING)


@dataclass
class DriftDetector:
    """Fields Xero sent that its spec does not document, or documented fields of another type."""

    object_name: str
    fields: dict[str, str]
    nested: dict[str, dict[str, str]] = field(default_factory=dict)
    id_field: str | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    _reported: set[tuple[str, str, str]] = field(default_factory=set)

    def _finding(
        self, found: list[dict[str, Any]], path: str, expected: str | None, observed: str, example: Any
    ) -> None:
        change = "new field" if expected is None else "type changed"
        key = (path, change, observed)
        if key in self._reported:
            return
        self._reported.add(key)
        found.append(
            {
                "object": self.object_name,
                "field": path,
                "change": change,
                "expected_type": expected,
                "observed_type": observed,
                "example_id": None if example is None else str(example),
                "detected_at": self.now(),
            }
        )

    def check(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for record in records:
            example = record.get(self.id_field) if self.id_field else None
            for name, value in record.items():
                if value is None:
                    continue
                expected = self.fields.get(name)
                observed = _kind(value)
                if expected is None or not _fits(expected, observed):
                    self._finding(found, name, expected, observed, example)
                    continue
                element_fields = self.nested.get(name)
                if element_fields is None or not isinstance(value, list):
                    continue
                for element in value:
                    if not isinstance(element, dict):
                        continue
                    for inner, inner_value in element.items():
                        if inner_value is None:
                            continue
                        inner_expected = element_fields.get(inner)
                        inner_observed = _kind(inner_value)
                        if inner_expected is None or not _fits(inner_expected, inner_observed):
                            self._finding(found, f"{name}[].{inner}", inner_expected, inner_observed, example)
        for row in found:
            log.warning(
                "Xero schema drift: %s field %s %s (%s%s); loaded anyway and recorded in xero_schema_drift",
                row["object"],
                row["field"],
                "is new" if row["change"] == "new field" else "changed type",
                f"{row['expected_type']} → " if row["expected_type"] else "",
                row["observed_type"],
            )
        return found

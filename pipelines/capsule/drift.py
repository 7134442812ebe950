"""Schema drift: what Capsule started sending that the last run's tables did not have.

dlt evolves the schema on its own (a new key becomes a new column, a value of another type becomes a
variant column ``<name>__v_<type>``), so drift never fails a run. What a person wants to know is
which *Capsule field* is new or changed, where it landed, and that the sync does not use it yet;
``SchemaChange.describe()`` says exactly that. The documented fields are declared up front
(settings.py), so a change reported here is something Capsule added or changed, not a column that
merely had no value before.

Nothing is reported for a table's first load (its columns are the baseline, not drift).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import dlt

from pipelines.capsule.settings import TABLE_PREFIX

Snapshot = dict[str, set[str]]  # table -> column names
CHANGES_TABLE = "capsule_schema_changes"


@dataclass(frozen=True)
class SchemaChange:
    table_name: str
    column_name: str | None  # None: a whole new table (a new nested list)
    data_type: str | None
    kind: str  # "new_column" | "new_table" | "type_changed"
    load_id: str

    def describe(self) -> str:
        where = f"raw.{self.table_name}"
        if self.kind == "new_table":
            return f"Capsule sent a new list; it is stored in the new table {where}."
        if self.kind == "type_changed":
            base = (self.column_name or "").split("__v_")[0]
            return (
                f"Capsule sent {where}.{base} as {self.data_type} (before: another type); "
                f"those values are stored in {where}.{self.column_name}."
            )
        return (
            f"Capsule sent a new field, stored as {where}.{self.column_name} ({self.data_type}); "
            "the sync does not use it yet."
        )

    def as_row(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.describe()}


def snapshot(pipeline: dlt.Pipeline) -> Snapshot:
    """The capsule_* tables and their columns as the pipeline knows them now (empty before a first run)."""
    if not pipeline.default_schema_name:
        return {}
    tables = pipeline.default_schema.data_tables(include_incomplete=False)
    return {t["name"]: set(t.get("columns", {})) for t in tables if t["name"].startswith(TABLE_PREFIX)}


def changes(before: Snapshot, load_info: Any) -> list[SchemaChange]:
    """New tables and columns that this run's load packages added to tables known before it."""
    found: list[SchemaChange] = []
    seen: set[tuple[str, str | None]] = set()
    if not before:
        return found  # the very first load is the baseline
    for package in getattr(load_info, "load_packages", ()) or ():
        update: Mapping[str, Any] = package.schema_update or {}
        for table, spec in update.items():
            if not table.startswith(TABLE_PREFIX):
                continue
            if table not in before:
                if (table, None) not in seen and table != CHANGES_TABLE:
                    seen.add((table, None))
                    found.append(SchemaChange(table, None, None, "new_table", package.load_id))
                continue
            for name, column in (spec.get("columns") or {}).items():
                if name in before[table] or name.startswith("_dlt_") or (table, name) in seen:
                    continue
                seen.add((table, name))
                kind = "type_changed" if "__v_" in name else "new_column"
                found.append(SchemaChange(table, name, column.get("data_type"), kind, package.load_id))
    return found

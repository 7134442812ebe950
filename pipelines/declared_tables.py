"""Tables a source promises, created empty when the account had nothing for them.

dlt creates a table only once a row for it arrives: a new Xero organisation (no contacts), or
contacts none of which has ContactPersons, leaves ``xero_contacts__contact_persons`` uncreated, and
the staging SQL that selects from it fails with a catalog error. After each load every source
calls ``create_missing_tables`` with the tables it declares, so SQL downstream can always select
from them.

The empty tables get the columns and types dlt itself gives them when rows do arrive: the names go
through the pipeline schema's naming convention, the types through the destination's own type
mapper, and the bookkeeping columns are dlt's. The declared columns must be ones dlt creates from
the resource's column hints whenever the table has rows (so declare them as hints too); then a
later load finds the table, adds any column it infers beyond them, and loads into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dlt

Columns = Mapping[str, Mapping[str, Any]]

# dlt's own columns: every table has a load id and a row id; a nested (child) table links its rows
# to the root row and to the parent row with the list position. _dlt_root_id is there because every
# declared child hangs off a merge resource (dlt propagates the root key for merge).
DLT_ROOT_COLUMNS: dict[str, dict[str, Any]] = {
    "_dlt_load_id": {"data_type": "text", "nullable": False},
    "_dlt_id": {"data_type": "text", "nullable": False},
}
DLT_CHILD_COLUMNS: dict[str, dict[str, Any]] = {
    "_dlt_root_id": {"data_type": "text", "nullable": False},
    "_dlt_parent_id": {"data_type": "text", "nullable": False},
    "_dlt_list_idx": {"data_type": "bigint", "nullable": False},
    "_dlt_id": {"data_type": "text", "nullable": False},
}


def declared_table_columns(
    pipeline: dlt.Pipeline,
    tables: Mapping[str, Columns],
    children: Mapping[str, Mapping[str, Columns]] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Every declared table under its name in the destination, with its columns (normalised names,
    declared columns first, then dlt's). ``tables``: root table -> columns as the resource declares
    them; ``children``: root table -> {nested list name as in the record -> its columns}."""
    naming = pipeline.default_schema.naming
    wanted: dict[str, dict[str, dict[str, Any]]] = {}
    for table, columns in tables.items():
        wanted[table] = _normalised(naming, columns, DLT_ROOT_COLUMNS)
        for name, nested in (children or {}).get(table, {}).items():
            child = naming.shorten_fragments(table, naming.normalize_identifier(name))
            wanted[child] = _normalised(naming, nested, DLT_CHILD_COLUMNS)
    return wanted


def _normalised(naming: Any, columns: Columns, bookkeeping: Columns) -> dict[str, dict[str, Any]]:
    out = {naming.normalize_path(name): dict(spec) for name, spec in columns.items()}
    out.update({name: dict(spec) for name, spec in bookkeeping.items()})
    return out


def create_missing_tables(
    pipeline: dlt.Pipeline,
    tables: Mapping[str, Columns],
    children: Mapping[str, Mapping[str, Columns]] | None = None,
) -> list[str]:
    """Create, empty, every declared table that does not exist yet in the pipeline's dataset, with
    the columns and types dlt gives it; returns the names created (tables that exist are left as
    they are, whatever their columns)."""
    wanted = declared_table_columns(pipeline, tables, children)
    mapper = pipeline.destination.capabilities().get_type_mapper()
    created = []
    with pipeline.sql_client() as client:
        existing = {
            row[0]
            for row in client.execute_sql(
                "select table_name from information_schema.tables where table_schema = %s",
                client.dataset_name,
            )
        }
        for table, columns in wanted.items():
            if table in existing:
                continue
            ddl = [
                f"{client.escape_column_name(name)} "
                f"{mapper.to_destination_type({'name': name, **spec}, {'name': table})}"
                + ("" if spec.get("nullable", True) else " NOT NULL")
                for name, spec in columns.items()
            ]
            client.execute_sql(f"create table {client.make_qualified_table_name(table)} ({', '.join(ddl)})")
            created.append(table)
    return created

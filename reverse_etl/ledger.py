"""The ledger: what this tool wrote to Xero, kept across runs in the DuckDB schema ``ledger``."""

from __future__ import annotations

from pathlib import Path

import duckdb

from capsule_xero.rules import COMPARED_FIELDS

__all__ = ["COMPARED_FIELDS", "LEDGER_SQL", "ensure_ledger", "has_table"]

LEDGER_SQL = Path(__file__).resolve().parent / "sql" / "ledger.sql"

# The compared fields of a contact (transform/sql/reconcile/README.md, "The contact shape"): one list,
# kept with the rules that name them; re-exported here for the ledger's readers.


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger schema and tables when missing; never touch existing rows."""
    con.execute(LEDGER_SQL.read_text())


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
    ).fetchall()
    return rows[0][0] > 0

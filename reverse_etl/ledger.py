"""The ledger: what this tool wrote to Xero, kept across runs in the DuckDB schema ``ledger``."""

from __future__ import annotations

from pathlib import Path

import duckdb

LEDGER_SQL = Path(__file__).resolve().parent / "sql" / "ledger.sql"

# The compared fields of a contact, in the order plans and the ledger list them
# (assets/sql/reconcile/README.md, "The contact shape").
COMPARED_FIELDS = (
    "contact_number",
    "name",
    "first_name",
    "last_name",
    "email_address",
    "tax_number",
    "website",
    "phone_default",
    "phone_mobile",
    "phone_fax",
    "street_address",
    "postal_address",
    "contact_persons",
    "contact_groups",
)


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger schema and tables when missing; never touch existing rows."""
    con.execute(LEDGER_SQL.read_text())

"""The ledger: what this tool planned and wrote to Xero, kept across runs in the DuckDB schema ``ledger``
(docs/architecture.md#the-ledger-and-the-outbox).

Every ``ledger.*`` table is one file in ``ledger/sql/`` named after it: DDL only, ``if not exists`` and
never replaced, since a rebuilt table would forget every earlier write and the next plan would settle
each difference again as if the contacts had just been adopted. ``ensure_ledger`` is the one function
that creates them; the statements that read and write a table live beside the code that uses it
(``plans/sql/``, ``apply/sql/``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import duckdb

LEDGER_SQL = Path(__file__).resolve().parent / "sql"


def ledger_tables() -> list[str]:
    """The ledger's tables, one per file in ``ledger/sql/``."""
    return sorted(path.stem for path in LEDGER_SQL.glob("*.sql"))


@cache
def _ledger_ddl() -> str:
    return "\n".join((LEDGER_SQL / f"{table}.sql").read_text() for table in ledger_tables())


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger schema and every table missing from it; never touch existing rows."""
    con.execute(_ledger_ddl())

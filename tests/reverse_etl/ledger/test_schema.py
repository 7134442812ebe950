"""The ledger is made in one place: one DDL file per ``ledger.*`` table, all created by ``ensure_ledger``."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from reverse_etl.ledger.schema import LEDGER_SQL, ensure_ledger, ledger_tables

ROOT = Path(__file__).resolve().parents[3]
CREATES_A_LEDGER_TABLE = re.compile(
    r"create\s+(or\s+replace\s+)?table\s+(if\s+not\s+exists\s+)?ledger\.(\w+)", re.I
)


def test_ensure_ledger_creates_every_ledger_table_each_from_the_file_named_after_it() -> None:
    with duckdb.connect() as con:
        ensure_ledger(con)
        created = {
            row[0]
            for row in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'ledger'"
            ).fetchall()
        }
    assert created == set(ledger_tables())
    # The tables the exactly-once apply leans on (docs/architecture.md#the-ledger-and-the-outbox).
    assert {
        "plans",
        "plan_operations",
        "outbox",
        "operation_outcomes",
        "written_contacts",
        "audit",
    } <= created
    assert {"error_queue", "error_queue_inputs", "note_outbox", "history_notes", "group_outbox"} <= created
    for table in ledger_tables():
        made = [
            m.group(3) for m in CREATES_A_LEDGER_TABLE.finditer((LEDGER_SQL / f"{table}.sql").read_text())
        ]
        assert made == [table]


def test_ensure_ledger_run_again_keeps_every_row() -> None:
    with duckdb.connect() as con:
        ensure_ledger(con)
        con.execute("insert into ledger.error_queue_inputs values (7, 'hash')")
        ensure_ledger(con)
        assert con.execute("select party_id, inputs_hash from ledger.error_queue_inputs").fetchall() == [
            (7, "hash")
        ]


def test_no_product_code_outside_the_ledger_folder_creates_a_ledger_table() -> None:
    elsewhere = [
        f"{path.relative_to(ROOT)}: ledger.{match.group(3)}"
        for folder in ("reverse_etl", "transform", "assets", "cli", "pipelines", "capsule_xero")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".sql", ".py") and LEDGER_SQL not in path.parents
        for match in CREATES_A_LEDGER_TABLE.finditer(path.read_text())
    ]
    assert elsewhere == []

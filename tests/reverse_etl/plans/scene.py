"""The reconcile's output, row by row, for the plan tests: each test says exactly which operations the
reconcile found (a ``Scene``), under rules that switch approval off unless the test turns it on.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from rich.console import Console

from capsule_xero.rules.fields import COMPARED_FIELDS
from capsule_xero.rules.model import Rules
from capsule_xero.rules.thresholds import ApprovalRules
from reverse_etl.ledger.schema import ensure_ledger

SEED = 21
PLANNED = ("create", "update", "archive", "restore")
PLANNED_AT = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
XERO_STATE = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
# The error queue as the apply loop defines it (the shared table contract); created here when missing.
ERROR_QUEUE_DDL = """
create table if not exists ledger.error_queue (
    party_id bigint primary key, contact_id varchar, plan_id bigint, seq integer, operation varchar,
    error_kind varchar, message varchar, attempts integer, first_failed_at timestamptz,
    next_attempt_at timestamptz, state varchar
)
"""
# Every rule that could make a plan wait, switched off: a plan is approved unless a test switches one on.
NO_APPROVAL = ApprovalRules(
    max_operations=1000, archives_need_approval=False, first_migration_needs_approval=False
)


def rules(**approval: Any) -> Rules:
    return Rules(approval=NO_APPROVAL.model_copy(update=approval))


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    result = con.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def text_of(renderable: Any) -> str:
    console = Console(width=200, record=True, soft_wrap=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


RECONCILE_DDL = """
create schema if not exists reconcile;
create schema if not exists raw;
create schema if not exists staging;
create or replace table reconcile.planned_rejects (
    party_id bigint, contact_id varchar, operation varchar, rule varchar, field varchar, value varchar
);
create or replace table reconcile.contact_operations (
    operation varchar, party_id bigint, contact_id varchar, contact_number varchar, name varchar,
    first_name varchar, last_name varchar, email_address varchar, tax_number varchar, website varchar,
    phone_default varchar, phone_mobile varchar, phone_fax varchar, street_address varchar,
    postal_address varchar, contact_persons varchar, contact_groups varchar, changed_fields varchar[],
    kept_fields varchar[], expect_refusal boolean, refusal_reason varchar, reason varchar
);
create or replace table reconcile.current_contacts (
    contact_id varchar, contact_status varchar, xero_updated_at timestamptz, balance_outstanding decimal(18, 2),
    contact_number varchar, name varchar, first_name varchar, last_name varchar, email_address varchar,
    tax_number varchar, website varchar, phone_default varchar, phone_mobile varchar, phone_fax varchar,
    street_address varchar, postal_address varchar, contact_persons varchar, contact_groups varchar
);
create or replace table reconcile.history_notes (
    party_id bigint, contact_id varchar, note_hash varchar, item_keys varchar[], items_total bigint, note varchar
);
create or replace table raw.xero_contacts (
    contact_id varchar, contact_number varchar, name varchar, updated_date_utc timestamptz
);
create or replace table staging.capsule_parties (
    party_id bigint, updated_at timestamptz, deleted_at timestamptz, is_deleted boolean, xero_contact_id varchar
);
"""


class Scene:
    """The reconcile's output, row by row: what the plan is made from."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        ensure_ledger(con)
        con.execute(RECONCILE_DDL)

    def xero(self, contact_id: str, updated: datetime = XERO_STATE, **fields: str | None) -> None:
        values = {f: fields.get(f) for f in COMPARED_FIELDS}
        self.con.execute(
            "insert into reconcile.current_contacts values (?, 'ACTIVE', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [contact_id, updated, *values.values()],
        )
        self.con.execute(
            "insert into raw.xero_contacts values (?, ?, ?, ?)",
            [contact_id, values["contact_number"], values["name"], updated],
        )

    def operation(
        self, operation: str, party_id: int, contact_id: str | None = None, **fields: str | None
    ) -> None:
        values = {f: fields.get(f) for f in COMPARED_FIELDS} | {"contact_number": f"CAP-{party_id}"}
        changed = [f for f in COMPARED_FIELDS if f in fields]
        if operation == "create":
            changed = ["contact_number", *changed]
        self.con.execute(
            "insert into reconcile.contact_operations values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [operation, party_id, contact_id, *values.values(), changed, [], False, None, f"{operation}s it"],
        )

    def note(self, party_id: int, contact_id: str | None, text: str) -> None:
        self.con.execute(
            "insert into reconcile.history_notes values (?, ?, ?, ?, 1, ?)",
            [party_id, contact_id, f"hash-{party_id}-{text}", [f"opportunity:{party_id}"], text],
        )

    def wrote_before(self) -> None:
        """A row in ledger.written_contacts: this organisation is past its first migration."""
        self.con.execute(
            "insert into ledger.written_contacts (contact_id, party_id, plan_id, written_at, contact_status)"
            " values ('written-earlier', 1, null, ?, 'ACTIVE')",
            [XERO_STATE - timedelta(days=30)],
        )

    def queue(
        self, party_id: int, state: str, next_attempt_at: datetime | None, message: str, refused_in: int = 1
    ) -> None:
        """An error-queue entry as the apply loop leaves it after plan ``refused_in`` sent the party's
        operation (its inputs hash is that operation's)."""
        self.con.execute(ERROR_QUEUE_DDL)
        self.con.execute(
            "insert into ledger.error_queue (party_id, contact_id, plan_id, seq, operation, error_kind, message,"
            " attempts, first_failed_at, next_attempt_at, state)"
            " values (?, null, ?, 1, 'update', 'validation', ?, 3, ?, ?, ?)",
            [party_id, refused_in, message, XERO_STATE, next_attempt_at, state],
        )
        self.con.execute(
            "insert into ledger.error_queue_inputs select party_id, cx_operation_inputs(operation, contact_id,"
            " contact_number, changed_fields, after, before, expect_refusal)"
            " from ledger.plan_operations where plan_id = ? and party_id = ?",
            [refused_in, party_id],
        )

    def clear(self) -> None:
        self.con.execute("delete from reconcile.contact_operations")
        self.con.execute("delete from reconcile.history_notes")


def a_few_updates(scene: Scene, count: int) -> None:
    for n in range(count):
        scene.xero(f"c-{n}", name=f"Old {n}")
        scene.operation("update", 100 + n, f"c-{n}", name=f"New {n}")

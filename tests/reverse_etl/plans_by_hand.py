"""Plans written into the ledger by hand (the columns of reverse_etl/ledger/sql/plan_operations.sql), so
each apply and undo test says exactly which operations it applies; and the helpers those tests share.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import typer

from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from capsule_xero.xero.token_store import TokenSet
from cli.write import apply_command, retry_command, undo_command
from reverse_etl.apply.loop import apply_plan
from reverse_etl.apply.result import ApplyResult
from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.app import Sandbox
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl

Row = dict[str, Any]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BALANCE = {"AccountsReceivable": {"Outstanding": 250.0, "Overdue": 0.0}}


def create(party: int, **fields: str | None) -> Row:
    values = {"contact_number": f"CAP-{party}", "name": f"Party {party} Pty Ltd", **fields}
    return {"operation": "create", "party_id": party, "contact_number": f"CAP-{party}", "after": values}


def update(party: int, contact: Row, after: dict[str, str | None], before: Row | None = None) -> Row:
    """An update of the fields in ``after``; ``before`` defaults to the values the contact has."""
    return {
        "operation": "update",
        "party_id": party,
        "contact_id": contact["ContactID"],
        "contact_number": contact.get("ContactNumber") or f"CAP-{party}",
        "after": after,
        "before": before if before is not None else {name: _xero_value(contact, name) for name in after},
    }


def archive(party: int, contact: Row) -> Row:
    return {
        "operation": "archive",
        "party_id": party,
        "contact_id": contact["ContactID"],
        "contact_number": contact.get("ContactNumber"),
        "after": {},
        "before": {},
    }


def _xero_value(contact: Row, name: str) -> str | None:
    xero = {
        "name": "Name",
        "email_address": "EmailAddress",
        "first_name": "FirstName",
        "last_name": "LastName",
    }
    return contact.get(xero[name]) if name in xero else None


def add_plan(
    con: duckdb.DuckDBPyConnection,
    operations: list[Row],
    *,
    status: str = "approved",
    notes: list[Row] = (),  # type: ignore[assignment]
    rules: Rules | None = None,
    xero_state_at: datetime | None = None,
) -> int:
    """Store a plan with these operations (seq = position) and notes; returns its number."""
    ensure_ledger(con)
    ((plan_id,),) = con.execute("select coalesce(max(plan_id), 0) + 1 from ledger.plans").fetchall()
    con.execute(
        "insert into ledger.plans (plan_id, created_at, rules_fingerprint, xero_state_at, capsule_state_at,"
        " status, approval_reasons, operation_counts, approved_at, applied_at, content_hash)"
        " values (?, ?, ?, ?, null, ?, [], '{}', ?, null, null)",
        [plan_id, T0, (rules or Rules()).fingerprint(), xero_state_at, status, T0],
    )
    for seq, op in enumerate(operations, start=1):
        con.execute(
            "insert into ledger.plan_operations (plan_id, seq, operation, party_id, contact_id, contact_number,"
            " changed_fields, after, before, kept_fields, reason, expect_refusal, name)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                plan_id,
                seq,
                op["operation"],
                op["party_id"],
                op.get("contact_id"),
                op.get("contact_number"),
                op.get("changed_fields", list(op["after"])),
                json.dumps(op["after"]),
                json.dumps(op["before"]) if op.get("before") is not None else None,
                op.get("kept_fields", []),
                op.get("reason", f"test {op['operation']}"),
                op.get("expect_refusal", False),
                op["after"].get("name"),
            ],
        )
    for note in notes:
        con.execute(
            "insert into ledger.plan_notes values (?, ?, ?, ?, ?, ?)",
            [
                plan_id,
                note["party_id"],
                note.get("contact_id"),
                note["note_hash"],
                note["item_keys"],
                note["note"],
            ],
        )
    return plan_id


def query(con: duckdb.DuckDBPyConnection, text: str, params: list[Any] | None = None) -> list[Row]:
    result = con.execute(text, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def outcomes(con: duckdb.DuckDBPyConnection, plan_id: int) -> dict[int, Row]:
    rows = query(con, "select * from ledger.operation_outcomes where plan_id = ?", [plan_id])
    return {r["seq"]: r for r in rows}


def plan_status(con: duckdb.DuckDBPyConnection, plan_id: int) -> str:
    return query(con, "select status from ledger.plans where plan_id = ?", [plan_id])[0]["status"]


def capsule_field(settings: Settings, party_id: int, name: str = "Xero Contact ID") -> list[Any]:
    import httpx

    response = httpx.get(
        f"{settings.capsule_api_url}/parties/{party_id}",
        params={"embed": "fields"},
        headers={"Authorization": f"Bearer {settings.capsule_api_token.get_secret_value()}"},
    )
    response.raise_for_status()
    return [f["value"] for f in response.json()["party"]["fields"] if f["definition"]["name"] == name]


def load_parties(server: SandboxServer, sandbox: Sandbox, count: int = 150) -> list[int]:
    """Ids of ``count`` generated Capsule parties, loaded into Capsule only (Xero starts empty)."""
    data: Dataset = generate(count, seed=11)
    server.call(sandbox.capsule.load, data)
    return [int(p["id"]) for p in data.capsule_parties]


def open_ledger(path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(path))
    ensure_ledger(connection)
    return connection


def run(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    plan_id: int,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    **options: Any,
) -> ApplyResult:
    return apply_plan(
        con, settings, options.pop("rules", Rules()), plan_id, writer=writer, capsule=back, **options
    )


def sign_in_again(auth: XeroAuth, xero: XeroControl, tenant: str) -> None:
    """A new access token from the stand-in, stored where ``auth login`` puts it (as the auth fixture)."""
    issued = xero.issue_token(tenant_ids=[tenant])
    auth.store.save(
        TokenSet(
            access_token=issued["access_token"],
            expires_at=datetime.now(UTC) + timedelta(minutes=20),
            scopes=list(issued["scopes"]),
            tenant_id=tenant,
        )
    )


class Killed(BaseException):
    """Stands for the process dying: nothing after it runs (no ``except Exception`` catches it)."""


class DiesAfterBatch(XeroContactWriter):
    """A writer whose process dies right after Xero answered batch ``die_after`` (counted from 1),
    before the apply loop could store the answer."""

    def __init__(self, *args: Any, die_after: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.die_after = die_after

    def write(self, operations: Any, **kwargs: Any) -> Iterator[Any]:  # type: ignore[override]
        for number, result in enumerate(super().write(operations, **kwargs), start=1):
            if number == self.die_after:
                raise Killed
            yield result


def command_env(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, settings: Settings) -> None:
    """The environment ``capsule-xero`` reads, pointing at the stand-ins and the signed-in home."""
    env = server.env() | {"CAPSULE_XERO_HOME": str(settings.home), "XERO_TENANT_ID": settings.xero_tenant_id}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("apply")(apply_command)
    app.command("undo")(undo_command)
    app.command("retry")(retry_command)
    return app

"""Capsule sees Xero's money (issue 14, part 3) end to end against the stand-ins: each linked party's
totals reach its Capsule custom fields through the plan → outbox → writer path, a sync after that
writes nothing (no echo), a payment in Xero changes only the fields it moves, and a field Capsule does
not have is reported — in the report, the plan and `capsule-xero status` — never skipped in silence.

Expected values are computed from the generated book in Python ``Decimal`` (tests/support/money_fields.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
from rich.console import Console
from typer.testing import CliRunner

from capsule_xero.rules.model import Rules
from cli import app as cli
from reverse_etl.plans.approval import approval_reasons
from reverse_etl.plans.render import render_plan
from reverse_etl.undo import undo_plan
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.generator import generate
from tests.support.money_fields import (
    FIELD_NAMES,
    MoneyWorld,
    as_capsule_text,
    expected_values,
    money_rules,
    with_money_definitions,
)
from tests.support.sync_world import PACING, World, capsule_field_values
from transform.reports import read_report

pytestmark = pytest.mark.slow  # a 30-party world synced twice: about 20 s a test

PARTIES = 30
SEED = 11
SYDNEY = ZoneInfo("Australia/Sydney")


def capsule_writes(world: World, since: int) -> list[tuple[str, str]]:
    return [
        (c.method, c.path)
        for c in world.server.call(lambda: world.sandbox.calls.records("capsule", since))
        if c.method not in {"GET", "HEAD"}
    ]


def linked(world: World) -> dict[int, str]:
    """Party → Xero contact, for the parties the last reconcile linked."""
    with world.connect() as con:
        rows = con.execute(
            "select party_id, contact_id from reconcile.contact_matches where outcome = 'matched'"
        ).fetchall()
    return {int(party): str(contact) for party, contact in rows}


def assert_capsule_shows_the_book(world: MoneyWorld, keys: tuple[str, ...]) -> int:
    """Every linked party's money fields hold the book's values (no value where the value is zero or
    none); returns how many values are filled in."""
    today = datetime.now(UTC).astimezone(SYDNEY).date()
    filled = 0
    for key in keys:
        held = capsule_field_values(world, FIELD_NAMES[key])
        for party_id, contact_id in linked(world).items():
            want = as_capsule_text(key, expected_values(world.dataset, contact_id, today)[key])
            assert held.get(party_id) == want, (key, party_id, contact_id)
            filled += want is not None
    return filled


def plan_text(world: World, plan_id: int) -> str:
    console = Console(record=True, width=200)
    with world.connect() as con:
        from reverse_etl.plans.store import load_plan

        plan = load_plan(con, plan_id)
        assert plan is not None
        console.print(render_plan(con, plan, limit=None))
    return console.export_text()


def pay_in_full(world: World, party_id: int, contact_id: str) -> dict[str, Any]:
    """A bookkeeper records in Xero that the contact paid its open invoice with the most owing:
    the invoice is PAID, owes nothing, and moved (UpdatedDateUTC) so the incremental read sees it."""

    def pay() -> dict[str, Any]:
        org = world.sandbox.xero.primary
        book = org.money_book
        owing = [
            i
            for i in book.invoices.records.values()
            if str(i["Contact"]["ContactID"]).lower() == contact_id
            and i["Type"] == "ACCREC"
            and i["Status"] == "AUTHORISED"
            and i["CurrencyCode"] == "AUD"
        ]
        invoice = max(owing, key=lambda i: i["AmountDue"])
        invoice.update(
            AmountPaid=invoice["AmountPaid"] + invoice["AmountDue"],
            AmountDue=Decimal("0.00"),
            Status="PAID",
            UpdatedDateUTC=org.sandbox.clock.now(),
        )
        book.invoices.fill(list(book.invoices.records.values()))
        return invoice

    return world.server.call(pay)


def test_each_linked_partys_money_reaches_capsule_and_a_payment_in_xero_moves_only_its_fields(
    tmp_path: Path,
) -> None:
    """sync.direction left at its default (capsule_to_xero): the money fields are written all the same."""
    dataset = with_money_definitions(generate(parties=PARTIES, seed=SEED))
    with MoneyWorld(dataset, tmp_path / "home", money_rules()) as world:
        first = world.sync()
        assert first.result is not None and first.result.status == "applied", first.result
        assert first.plan.counts["capsule_money"] > 0
        assert first.result.capsule_written >= first.plan.counts["capsule_money"]
        assert assert_capsule_shows_the_book(world, tuple(FIELD_NAMES)) > 0

        # A payment in Xero: only that party's amounts change, in one call, with no person asked; every
        # other party's fields, written by the first sync, are found as written (no echo).
        today = datetime.now(UTC).astimezone(SYDNEY).date()
        owing = {
            party: contact
            for party, contact in linked(world).items()
            if expected_values(dataset, contact, today)["outstanding"] > 0
        }
        party_id, contact_id = sorted(owing.items())[0]
        before = expected_values(dataset, contact_id, today)
        invoice = pay_in_full(world, party_id, contact_id)
        after = expected_values(dataset, contact_id, today)
        assert after["outstanding"] < before["outstanding"]  # the book the truth is read from moved too

        since = world.last_call()
        paid = world.sync(approve_first=False)
        assert paid.plan.counts["capsule_money"] == 1
        assert paid.plan.approval_reasons == () and not paid.approved
        assert paid.result is not None and paid.result.status == "applied", paid.result
        assert capsule_writes(world, since) == [("PUT", f"/api/v2/parties/{party_id}")]
        assert assert_capsule_shows_the_book(world, tuple(FIELD_NAMES)) > 0
        old, new = as_capsule_text("outstanding", before["outstanding"]), after["outstanding"]
        shown = f"{Decimal(old or 0):,.2f} → " + (f"{new:,.2f}" if new else "(empty)")
        assert f"Outstanding (Xero): {shown}" in plan_text(world, paid.plan.plan_id), invoice["InvoiceNumber"]

        # Undo puts back the value the plan replaced (the next sync would write Xero's again).
        with world.connect() as con, XeroContactWriter(world.settings, world.auth, policy=PACING) as writer:
            undone = undo_plan(con, world.settings, paid.plan.plan_id, writer=writer, rules=world.rules)
        assert f"party {party_id}: Outstanding (Xero)" in undone.capsule.reverted, undone.capsule
        assert capsule_field_values(world, "Outstanding (Xero)").get(party_id) == old


def test_with_two_way_sync_a_missing_capsule_field_is_reported_and_the_others_still_arrive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defined = ("invoiced_12_months", "outstanding", "overdue", "last_payment_date")
    dataset = with_money_definitions(generate(parties=PARTIES, seed=SEED), keys=defined)
    rules = money_rules(sync={"direction": "both"})
    with MoneyWorld(dataset, tmp_path / "home", rules) as world:
        first = world.sync()
        assert first.result is not None and first.result.status == "applied", first.result
        assert assert_capsule_shows_the_book(world, defined) > 0
        assert capsule_field_values(world, FIELD_NAMES["last_invoice"]) == {}

        # The report names it with the definition to create, the plan says so, status says so.
        with world.connect() as con:
            columns, rows = read_report(con, "money_fields")
        missing = [
            dict(zip(columns, row, strict=True)) for row in rows if row[columns.index("state")] != "ok"
        ]
        assert [(m["rules_key"], m["capsule_field"], m["definition_to_create"]) for m in missing] == [
            (
                "last_invoice",
                "Last invoice (Xero)",
                "name: Last invoice (Xero); type: text; applies to: People & Organisations",
            )
        ]
        assert first.plan.counts["money_fields_not_written"] == 1
        assert "`capsule-xero report money_fields` shows the definition to create" in plan_text(
            world, first.plan.plan_id
        )
        for key, value in world.server.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("CAPSULE_XERO_HOME", str(world.settings.duckdb_path.parent))
        monkeypatch.setenv("COLUMNS", "200")
        status = CliRunner().invoke(cli.app, ["status"])
        lines = [line for line in status.output.splitlines() if "Money fields not written" in line]
        assert lines == [
            "Money fields not written to Capsule: Last invoice (Xero) (missing in Capsule or not fit for the"
            " value): `capsule-xero report money_fields` shows the definition to create."
        ], status.output

        # No echo on either side.
        since = world.last_call()
        again = world.sync(approve_first=False)
        assert (again.plan.status, again.plan.capsule_writes) == ("empty", 0), again.plan
        assert again.xero_writes == [] and capsule_writes(world, since) == []


def test_money_writes_wait_for_a_person_only_when_the_rules_file_says_capsule_updates_do() -> None:
    counts = {"capsule_money": 3}
    con = duckdb.connect()
    relaxed = Rules.model_validate({"approval": {"first_migration_needs_approval": False}})
    strict = Rules.model_validate(
        {"approval": {"first_migration_needs_approval": False, "capsule_updates_need_approval": True}}
    )
    assert approval_reasons(con, relaxed, counts) == []
    assert approval_reasons(con, strict, counts) == [
        "3 Capsule parties to change from Xero (approval.capsule_updates_need_approval)"
    ]


def test_a_money_plan_line_reads_as_amounts_with_cents_and_separators() -> None:
    from reverse_etl.plans.render import money_text

    assert [money_text(v) for v in ("1200", "980.5", None, "", "INV-0042 2026-11-30", "2026-11-30")] == [
        "1,200.00",
        "980.50",
        "(empty)",
        "(empty)",
        "INV-0042 2026-11-30",
        "2026-11-30",
    ]

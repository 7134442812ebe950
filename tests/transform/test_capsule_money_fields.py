"""Xero's money per linked Capsule party (issue 14, part 3), built in DuckDB from a small generated book
read through the stand-in, held to the values computed independently in Python ``Decimal``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from capsule_xero.rules.model import Rules
from sandbox.generator import Dataset, generate
from tests.support.money_fields import (
    FIELD_NAMES,
    MoneyWorld,
    as_capsule_text,
    expected_values,
    money_rules,
    with_money_definitions,
)
from transform.reports import read_report
from transform.stages import STAGE_BY_NAME, capsule_money, reconcile, sql_params

SYDNEY = ZoneInfo("Australia/Sydney")
COLUMNS = ("invoiced_12_months", "outstanding", "overdue", "last_invoice", "last_payment_date")


@pytest.fixture(scope="module")
def money_world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Dataset, duckdb.DuckDBPyConnection]]:
    """120 parties and their book extracted with money on, reconciled as of the book's own day."""
    dataset = with_money_definitions(generate(parties=120, seed=5), keys=("outstanding", "last_payment_date"))
    home: Path = tmp_path_factory.mktemp("money") / "home"
    with MoneyWorld(dataset, home, money_rules()) as world:
        world.extract()
    con = duckdb.connect(str(world.settings.duckdb_path))
    reconcile(con, world.rules, now=dataset.now)
    yield dataset, con
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, object]]:
    result = con.execute(sql)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def test_each_linked_party_gets_its_own_contacts_totals_exactly_as_the_book_says(
    money_world: tuple[Dataset, duckdb.DuckDBPyConnection],
) -> None:
    dataset, con = money_world
    assert dataset.now is not None
    today = dataset.now.astimezone(SYDNEY).date()
    rows = _rows(con, "select * from reconcile.capsule_money_fields order by party_id")
    linked = _rows(
        con, "select party_id, contact_id from reconcile.contact_matches where outcome = 'matched'"
    )
    assert {r["party_id"] for r in rows} == {r["party_id"] for r in linked}
    with_money = [r for r in rows if r["outstanding"] or r["invoiced_12_months"] or r["last_invoice"]]
    assert len(with_money) >= 5  # the world has customers with invoices, paid and owing
    assert any(r["overdue"] for r in rows) and any(r["outstanding"] != r["overdue"] for r in rows)
    for row in rows:
        truth = expected_values(dataset, str(row["contact_id"]), today)
        assert {c: row[c] for c in COLUMNS} == truth, row
        assert all(isinstance(row[c], Decimal) for c in ("invoiced_12_months", "outstanding", "overdue"))


def test_foreign_currency_documents_stay_out_of_the_base_currency_totals(
    money_world: tuple[Dataset, duckdb.DuckDBPyConnection],
) -> None:
    dataset, con = money_world
    foreign = {
        str(i["Contact"]["ContactID"]).lower()
        for i in dataset.xero_invoices
        if i["Type"] == "ACCREC" and i["CurrencyCode"] != "AUD" and i["Status"] == "AUTHORISED"
    }
    owing = _rows(con, "select contact_id, outstanding from reconcile.capsule_money_fields")
    assert foreign & {row["contact_id"] for row in owing}  # a linked customer owes in USD or NZD
    for row in owing:
        if row["contact_id"] in foreign:
            aud_only = sum(
                (
                    i["AmountDue"]
                    for i in dataset.xero_invoices
                    if str(i["Contact"]["ContactID"]).lower() == row["contact_id"]
                    and i["Type"] == "ACCREC"
                    and i["Status"] == "AUTHORISED"
                    and i["CurrencyCode"] == "AUD"
                ),
                Decimal(0),
            )
            assert row["outstanding"] == aud_only


def test_overdue_counts_from_the_day_it_is_given_so_an_invoice_falls_due_overnight(
    money_world: tuple[Dataset, duckdb.DuckDBPyConnection],
) -> None:
    dataset, con = money_world
    assert dataset.now is not None
    rows = _rows(con, "select contact_id, overdue from reconcile.capsule_money_fields")
    later = dataset.now + timedelta(days=40)  # every invoice "current" today is past due by then
    capsule_money(con, money_rules(), sql_params(money_rules(), later))
    try:
        moved = _rows(con, "select contact_id, overdue from reconcile.capsule_money_fields")
        today = later.astimezone(SYDNEY).date()
        assert {r["contact_id"]: r["overdue"] for r in moved} == {
            r["contact_id"]: expected_values(dataset, str(r["contact_id"]), today)["overdue"] for r in moved
        }
        assert moved != rows
    finally:
        capsule_money(con, money_rules(), sql_params(money_rules(), dataset.now))


def test_only_the_fields_that_differ_from_capsule_become_a_money_write_per_party(
    money_world: tuple[Dataset, duckdb.DuckDBPyConnection],
) -> None:
    dataset, con = money_world
    assert dataset.now is not None
    today = dataset.now.astimezone(SYDNEY).date()
    updates = _rows(con, "select * from reconcile.capsule_money_updates")
    operations = _rows(con, "select * from reconcile.capsule_operations where operation = 'money'")
    assert len(updates) == len(operations) > 0
    defined = {FIELD_NAMES["outstanding"], FIELD_NAMES["last_payment_date"]}
    for update in updates:
        after = json.loads(str(update["after"]))
        assert set(update["changed_fields"]) <= defined  # fields Capsule lacks are never written
        truth = expected_values(dataset, str(update["contact_id"]), today)
        for key in ("outstanding", "last_payment_date"):
            if FIELD_NAMES[key] in after:
                assert after[FIELD_NAMES[key]] == as_capsule_text(key, truth[key])
    # A party that owes nothing and was never paid has nothing to write (zero reads as empty).
    quiet = _rows(
        con,
        "select party_id from reconcile.capsule_money_fields where outstanding = 0 and last_payment_date is null",
    )
    assert quiet and not {q["party_id"] for q in quiet} & {u["party_id"] for u in updates}


def test_a_field_capsule_does_not_have_is_reported_with_the_definition_to_create(
    money_world: tuple[Dataset, duckdb.DuckDBPyConnection],
) -> None:
    _, con = money_world
    columns, rows = read_report(con, "money_fields")
    report = {row[columns.index("rules_key")]: dict(zip(columns, row, strict=True)) for row in rows}
    assert set(report) == set(FIELD_NAMES)
    assert report["outstanding"]["state"] == "ok" and report["last_payment_date"]["state"] == "ok"
    assert report["last_invoice"]["state"] == "missing"
    assert report["last_invoice"]["definition_to_create"] == (
        "name: Last invoice (Xero); type: text; applies to: People & Organisations"
    )
    assert report["invoiced_12_months"]["definition_to_create"] == (
        "name: Invoiced 12 months (Xero); type: number; applies to: People & Organisations"
    )
    assert report["outstanding"]["parties_to_update"] > 0


def test_with_no_money_field_turned_on_nothing_is_computed_or_planned(
    money_world: tuple[Dataset, duckdb.DuckDBPyConnection],
) -> None:
    dataset, con = money_world
    off = Rules.model_validate({"money": {"read": ["invoices", "payments"]}})
    try:
        counts = capsule_money(con, off, sql_params(off, dataset.now))
        assert counts["reconcile.capsule_money_definitions"] == 0
        assert counts["reconcile.capsule_money_updates"] == 0
    finally:
        capsule_money(con, money_rules(), sql_params(money_rules(), dataset.now))


def test_the_money_stage_waits_on_no_money_table_dagster_skips_when_money_is_off() -> None:
    """A Dagster asset drawn after a skipped one is skipped too: after the skippable money assets, the
    money stage (and every Capsule write after it) would never run with money off."""
    from assets.ingest import MONEY_ASSETS

    stage = STAGE_BY_NAME["reconcile.capsule_money_updates"]
    assert {t.removeprefix("raw.") for t in stage.after if t.startswith("raw.")}.isdisjoint(MONEY_ASSETS)
    assert "reconcile.capsule_money_updates" in STAGE_BY_NAME["reconcile.capsule_operations"].after

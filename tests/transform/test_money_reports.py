"""The money reports against a small generated world extracted from the stand-ins: every total equals
the one computed here, in Python ``Decimal``, from the generator's own book (never from the same SQL),
per currency; a report whose money is not read says which ``money.read`` key turns it on; and 0.1
added ten thousand times comes out of the report (and its CSV) as exactly 1000.00."""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest
from dagster_duckdb import DuckDBResource
from typer.testing import CliRunner

from assets.money_checks import MONEY_CHECKS, result_of
from assets.reconcile import report_views as report_views_asset
from assets.resources import RulesResource
from capsule_xero.rules.model import Rules
from capsule_xero.xero.auth import XeroAuth, login
from cli import app as cli
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from pipelines.xero.settings import XeroExtractConfig
from sandbox.generator import Dataset, generate
from tests.support.sync_world import PACING, World
from transform.money_checks import MONEY_REPORTS, check_money_report
from transform.reports import ReportUnavailable, read_report, report_sql, why_unavailable
from transform.stages import report_views, sql_params

MONEY_ON = Rules.model_validate({"money": {"read": ["invoices", "quotes", "payments"]}})
ZERO = Decimal("0.00")
Key = tuple[Any, ...]


@dataclass
class MoneyWorld:
    world: World
    book: Dataset
    links: dict[str, int]  # Xero contact id → the Capsule party (organisation) it counts under

    @property
    def path(self) -> Path:
        return self.world.settings.duckdb_path

    def report(self, name: str) -> list[dict[str, Any]]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            columns, rows = read_report(con, name)
        return [dict(zip(columns, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def money(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoneyWorld]:
    """~200 Capsule parties and their AU book (~160 invoices and bills, credit notes, quotes, a few
    foreign-currency ones) in the stand-ins, extracted with money on and reconciled once."""
    book = generate(200, seed=3)
    with World(book, tmp_path_factory.mktemp("money") / "home") as world:
        login(
            XeroAuth(world.settings, rules=MONEY_ON),
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True, timeout=30),
        )
        extract_capsule(world.settings)
        run_xero_extract(world.settings, options=replace(XeroExtractConfig(), pacing=PACING), rules=MONEY_ON)
        from transform.stages import reconcile

        with world.connect() as con:
            reconcile(con, MONEY_ON)
            matched = con.execute(
                "select contact_id, party_id from reconcile.contact_matches where contact_id is not null"
            ).fetchall()
        parties = {p["id"]: p for p in book.capsule_parties}
        links = {contact: _account(parties, party) for contact, party in matched}
        yield MoneyWorld(world, book, links)


def _account(parties: dict[int, dict[str, Any]], party_id: int) -> int:
    """The party a document or opportunity counts under: a person's organisation, else itself."""
    organisation = (parties.get(party_id) or {}).get("organisation")
    return organisation["id"] if organisation else party_id


def _parties(book: Dataset) -> dict[int, dict[str, Any]]:
    return {p["id"]: p for p in book.capsule_parties}


def _sales_documents(book: Dataset) -> Iterator[tuple[dict[str, Any], Decimal]]:
    """Revenue documents with their sign: ACCREC invoices AUTHORISED/PAID (+1), ACCRECCREDIT credit notes (-1)."""
    for invoice in book.xero_invoices:
        if invoice["Type"] == "ACCREC" and invoice["Status"] in ("AUTHORISED", "PAID"):
            yield invoice, Decimal(1)
    for note in book.xero_credit_notes:
        if note["Type"] == "ACCRECCREDIT" and note["Status"] in ("AUTHORISED", "PAID"):
            yield note, Decimal(-1)


def _open_opportunities(book: Dataset) -> list[dict[str, Any]]:
    gone = {d["id"] for d in book.capsule_deleted_opportunities}
    return [
        o
        for o in book.capsule_opportunities
        if o["closedOn"] is None and o["lostReason"] is None and o["id"] not in gone
    ]


def _amount(opportunity: dict[str, Any]) -> Decimal | None:
    value = opportunity.get("value")
    return None if value is None else Decimal(repr(value["amount"]))  # the JSON text the stand-in sends


def _month(day: date) -> date:
    return day.replace(day=1)


def _sums(rows: list[dict[str, Any]], key: tuple[str, ...], values: tuple[str, ...]) -> dict[Key, Key]:
    out: dict[Key, Key] = {}
    for row in rows:
        k = tuple(row[name] for name in key)
        assert k not in out, f"two rows for {k}"
        out[k] = tuple(row[name] for name in values)
    return out


def _add(table: dict[Key, list[Any]], key: Key, *values: Any) -> None:
    current = table.setdefault(key, [type(v)(0) if not isinstance(v, date) else v for v in values])
    for index, value in enumerate(values):
        if not isinstance(value, date):
            current[index] += value


# ---- the totals ------------------------------------------------------------------------------------


def test_receivables_are_each_linked_partys_authorised_sales_invoices_amount_due_per_currency(
    money: MoneyWorld,
) -> None:
    today = date.today()
    expected: dict[Key, list[Any]] = {}
    oldest: dict[Key, date] = {}
    for invoice in money.book.xero_invoices:
        party = money.links.get(invoice["Contact"]["ContactID"].lower())
        if invoice["Type"] != "ACCREC" or invoice["Status"] != "AUTHORISED" or party is None:
            continue
        key = (party, invoice["CurrencyCode"])
        late = invoice["DueDate"] < today
        _add(expected, key, invoice["AmountDue"], invoice["AmountDue"] if late else ZERO, 1, int(late))
        oldest[key] = min(oldest.get(key, invoice["DueDate"]), invoice["DueDate"])

    rows = money.report("receivables")
    got = _sums(
        rows,
        ("party_id", "currency"),
        ("outstanding", "overdue", "invoice_count", "overdue_invoice_count", "oldest_due_date"),
    )
    assert len(expected) >= 5 and any(v[1] > 0 for v in expected.values())
    assert got == {k: (*v, oldest[k]) for k, v in expected.items()}
    assert all(isinstance(row["outstanding"], Decimal) for row in rows)
    parties = _parties(money.book)
    for row in rows:
        party = parties[row["party_id"]]
        assert row["owner"] == (party["owner"] or {}).get("name")
        assert set(row["tags"] or []) == {t["name"] for t in party.get("tags") or []}


def test_overdue_with_open_opportunities_lists_overdue_parties_that_capsule_still_sells_to(
    money: MoneyWorld,
) -> None:
    today = date.today()
    parties = _parties(money.book)
    opportunities: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for o in _open_opportunities(money.book):
        opportunities[_account(parties, o["party"]["id"])].append(o)
    overdue: dict[Key, list[Any]] = {}
    for invoice in money.book.xero_invoices:
        party = money.links.get(invoice["Contact"]["ContactID"].lower())
        if (
            invoice["Type"] == "ACCREC"
            and invoice["Status"] == "AUTHORISED"
            and invoice["DueDate"] < today
            and party in opportunities
        ):
            _add(overdue, (party, invoice["CurrencyCode"]), invoice["AmountDue"], 1)
    expected = {
        (party, currency): (
            amount,
            count,
            len(opportunities[party]),
            sum(
                (
                    _amount(o) or ZERO
                    for o in opportunities[party]
                    if (o["value"] or {}).get("currency") == currency
                ),
                ZERO,
            ),
        )
        for (party, currency), (amount, count) in overdue.items()
    }
    got = _sums(
        money.report("overdue_with_open_opportunities"),
        ("party_id", "currency"),
        ("overdue_amount", "overdue_invoice_count", "open_opportunity_count", "open_opportunity_value"),
    )
    assert expected and got == expected


def test_won_not_invoiced_lists_won_opportunities_no_sales_invoice_followed_within_the_days_of_the_rules(
    money: MoneyWorld,
) -> None:
    today = date.today()
    days = MONEY_ON.money.won_not_invoiced_days
    parties = _parties(money.book)
    gone = {d["id"] for d in money.book.capsule_deleted_opportunities}
    contacts_of: dict[int, set[str]] = defaultdict(set)
    for contact, party in money.links.items():
        contacts_of[party].add(contact)
    live = [
        i
        for i in money.book.xero_invoices
        if i["Type"] == "ACCREC" and i["Status"] not in ("VOIDED", "DELETED")
    ]
    expected = {}
    for o in money.book.capsule_opportunities:
        won = o["milestone"]["name"] == "Won" and o["closedOn"] and o["lostReason"] is None
        if not won or o["id"] in gone:
            continue
        won_on = date.fromisoformat(o["closedOn"])
        party = _account(parties, o["party"]["id"])
        invoiced = any(
            (i["Contact"]["ContactID"].lower() in contacts_of[party] and i["Date"] >= won_on)
            or i.get("Reference") == f"CAP-OPP-{o['id']}"
            for i in live
        )
        if not invoiced and (today - won_on).days > days:
            expected[o["id"]] = (party, won_on, _amount(o), (o["value"] or {}).get("currency"))
    got = _sums(
        money.report("won_not_invoiced"), ("opportunity_id",), ("party_id", "won_on", "value", "currency")
    )
    assert expected and got == {(k,): v for k, v in expected.items()}


def test_revenue_by_owner_is_invoices_minus_credit_notes_by_month_and_currency_with_gst_apart(
    money: MoneyWorld,
) -> None:
    parties = _parties(money.book)
    expected: dict[Key, list[Any]] = {}
    for document, sign in _sales_documents(money.book):
        party = money.links.get(document["Contact"]["ContactID"].lower())
        owner = (
            "(not in Capsule)" if party is None else (parties[party]["owner"] or {}).get("name", "(no owner)")
        )
        amounts = (sign * document["SubTotal"], sign * document["TotalTax"], sign * document["Total"])
        _add(
            expected,
            (_month(document["Date"]), owner, document["CurrencyCode"]),
            *amounts,
            int(sign > 0),
            int(sign < 0),
        )
    got = _sums(
        money.report("revenue_by_owner"),
        ("month", "owner", "currency"),
        ("sub_total", "total_tax", "total", "invoice_count", "credit_note_count"),
    )
    assert got == {k: tuple(v) for k, v in expected.items()}
    currencies = {k[2] for k in expected}
    assert len(currencies) > 1  # the book has foreign-currency invoices: never added to AUD
    assert {k[1] for k in expected} >= {"(not in Capsule)"} and len({k[1] for k in expected}) > 2


def test_revenue_by_tag_counts_each_document_under_every_tag_of_its_party(money: MoneyWorld) -> None:
    parties = _parties(money.book)
    expected: dict[Key, list[Any]] = {}
    for document, sign in _sales_documents(money.book):
        party = money.links.get(document["Contact"]["ContactID"].lower())
        if party is None:
            tags = {"(not in Capsule)"}
        else:
            tags = {t["name"] for t in parties[party].get("tags") or []} or {"(no tag)"}
        for tag in tags:
            amounts = (sign * document["SubTotal"], sign * document["TotalTax"], sign * document["Total"])
            _add(expected, (_month(document["Date"]), tag, document["CurrencyCode"]), *amounts)
    got = _sums(
        money.report("revenue_by_tag"), ("month", "tag", "currency"), ("sub_total", "total_tax", "total")
    )
    assert got == {k: tuple(v) for k, v in expected.items()}
    assert len({k[1] for k in expected}) > 3


def test_pipeline_vs_revenue_weighs_open_opportunities_by_probability_exactly_beside_revenue(
    money: MoneyWorld,
) -> None:
    expected: dict[Key, list[Any]] = {}
    for o in _open_opportunities(money.book):
        amount = _amount(o)
        month = _month(date.fromisoformat(o["expectedCloseOn"])) if o["expectedCloseOn"] else None
        currency = (o["value"] or {}).get("currency")
        weighted = ZERO if amount is None else amount * o["probability"] / 100
        _add(expected, (month, currency), 1, amount or ZERO, weighted, ZERO, ZERO, ZERO)
    for document, sign in _sales_documents(money.book):
        key = (_month(document["Date"]), document["CurrencyCode"])
        _add(
            expected,
            key,
            0,
            ZERO,
            ZERO,
            sign * document["SubTotal"],
            sign * document["TotalTax"],
            sign * document["Total"],
        )
    got = _sums(
        money.report("pipeline_vs_revenue"),
        ("month", "currency"),
        (
            "open_opportunity_count",
            "open_value",
            "weighted_pipeline",
            "invoiced_sub_total",
            "invoiced_total_tax",
            "invoiced_total",
        ),
    )
    assert got == {k: tuple(v) for k, v in expected.items()}
    assert any(v[2] != v[2].quantize(Decimal("0.01")) for v in got.values())  # sub-cent weights kept


def test_xero_customers_unknown_are_the_contacts_with_sales_documents_no_party_is_linked_to(
    money: MoneyWorld,
) -> None:
    expected: dict[Key, list[Any]] = {}

    def note(document: dict[str, Any], kind: int, invoiced: Decimal, outstanding: Decimal) -> None:
        contact = document["Contact"]["ContactID"].lower()
        if contact not in money.links:
            counts = [int(kind == n) for n in range(3)]
            _add(expected, (contact, document["CurrencyCode"]), *counts, invoiced, outstanding)

    for invoice in money.book.xero_invoices:
        if invoice["Type"] == "ACCREC" and invoice["Status"] not in ("VOIDED", "DELETED"):
            booked = invoice["Status"] in ("AUTHORISED", "PAID")
            due = invoice["AmountDue"] if invoice["Status"] == "AUTHORISED" else ZERO
            note(invoice, 0, invoice["Total"] if booked else ZERO, due)
    for credit in money.book.xero_credit_notes:
        if credit["Type"] == "ACCRECCREDIT" and credit["Status"] not in ("VOIDED", "DELETED"):
            note(credit, 1, -credit["Total"] if credit["Status"] in ("AUTHORISED", "PAID") else ZERO, ZERO)
    for quote in money.book.xero_quotes:
        if quote["Status"] != "DELETED":
            note(quote, 2, ZERO, ZERO)
    got = _sums(
        money.report("xero_customers_unknown"),
        ("contact_id", "currency"),
        ("invoice_count", "credit_note_count", "quote_count", "invoiced_total", "outstanding"),
    )
    assert len(expected) > 5 and got == {k: tuple(v) for k, v in expected.items()}


# ---- availability and exactness ------------------------------------------------------------------


def test_capsule_opportunity_values_land_in_duckdb_as_exact_decimals(money: MoneyWorld) -> None:
    with duckdb.connect(str(money.path), read_only=True) as con:
        kind = con.execute(
            "select data_type from information_schema.columns where table_schema = 'raw'"
            " and table_name = 'capsule_opportunities' and column_name = 'value__amount'"
        ).fetchall()
        stored = dict(con.execute("select id, value__amount from raw.capsule_opportunities").fetchall())
    assert kind == [("DECIMAL(18,2)",)]
    sent = {o["id"]: _amount(o) for o in money.book.capsule_opportunities}
    assert stored == sent and all(isinstance(v, Decimal) for v in stored.values() if v is not None)


@pytest.fixture
def copy_of(money: MoneyWorld, tmp_path: Path) -> Path:
    """A copy of the world's DuckDB file a test may change."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(money.path, path)
    return path


def test_a_money_report_without_its_money_tables_says_which_money_read_key_turns_it_on(copy_of: Path) -> None:
    with duckdb.connect(str(copy_of)) as con:
        for table in ("xero_invoices", "xero_credit_notes", "xero_quotes", "xero_payments"):
            con.execute(f"drop table raw.{table}")
        report_views(con, Rules(), sql_params(Rules()))
        reason = why_unavailable(con, "receivables")
        assert reason is not None and "money.read" in reason and "invoices" in reason
        assert "quotes" in (why_unavailable(con, "xero_customers_unknown") or "")
        with pytest.raises(ReportUnavailable, match=r"money\.read"):
            read_report(con, "revenue_by_owner")
        assert why_unavailable(con, "reconciliation") is None  # the contact reports are untouched


def test_won_not_invoiced_waits_the_days_the_rules_file_gives(copy_of: Path, money: MoneyWorld) -> None:
    with duckdb.connect(str(copy_of)) as con:
        listed = {}
        for days in (14, 3650):
            rules = Rules.model_validate({"money": {"read": ["invoices"], "won_not_invoiced_days": days}})
            report_views(con, rules, sql_params(rules))
            listed[days] = {row[0] for row in read_report(con, "won_not_invoiced")[1]}
    assert listed[3650] < listed[14]


def test_ten_thousand_invoices_of_ten_cents_add_up_to_exactly_1000_in_the_report_and_its_csv(
    copy_of: Path, money: MoneyWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact, party = next(iter(money.links.items()))
    with duckdb.connect(str(copy_of)) as con:
        con.execute("delete from raw.xero_invoices")
        con.execute("delete from raw.xero_credit_notes")
        con.execute(
            "insert into raw.xero_invoices (invoice_id, type, status, currency_code, contact__contact_id,"
            " sub_total, total_tax, total, amount_due, date, due_date, _dlt_load_id, _dlt_id)"
            " select 'inv-' || i, 'ACCREC', 'AUTHORISED', 'AUD', $contact, $amount, 0, $amount, $amount,"
            " date '2026-03-15', date '2026-04-14', 'load', 'id-' || i from range(10000) as r(i)",
            {"contact": contact, "amount": "0.10"},
        )
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(home))
    from capsule_xero.settings import Settings

    shutil.move(copy_of, Settings.from_env().duckdb_path)
    out = tmp_path / "revenue.csv"
    result = CliRunner().invoke(cli.app, ["report", "revenue_by_owner", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["month"], r["currency"], r["sub_total"], r["total"], r["invoice_count"]) for r in rows] == [
        ("2026-03-01", "AUD", "1000.00", "1000.00", "10000")
    ]
    out = tmp_path / "receivables.csv"
    result = CliRunner().invoke(cli.app, ["report", "receivables", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["party_id"], r["outstanding"], r["overdue"]) for r in rows] == [
        (str(party), "1000.00", "1000.00")
    ]
    assert sum((Decimal("0.1") for _ in range(10_000)), Decimal(0)) == Decimal("1000.0")
    assert sum(0.1 for _ in range(10_000)) != 1000.0  # what a float would have printed


# ---- the asset checks ------------------------------------------------------------------------------


def test_every_money_reports_asset_check_passes_in_dagster_with_counts_and_totals_per_currency(
    copy_of: Path, tmp_path: Path
) -> None:
    rules_file = tmp_path / "capsule-xero.yaml"
    rules_file.write_text("money:\n  read: [invoices, quotes, payments]\n")
    result = dg.materialize(
        [report_views_asset, *MONEY_CHECKS],
        resources={
            "duckdb": DuckDBResource(database=str(copy_of)),
            "rules": RulesResource(config_file=str(rules_file)),
        },
    )
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {f"{name}_totals_equal_xero" for name in MONEY_REPORTS}
    assert all(e.passed for e in evaluations.values())
    revenue = {k: v.value for k, v in evaluations["revenue_by_owner_totals_equal_xero"].metadata.items()}
    assert revenue["report_documents"] == revenue["xero_documents"] > 50
    assert {"AUD", "USD"} <= set(revenue["totals_by_currency"])
    assert all(t["report"] == t["xero"] for t in revenue["totals_by_currency"].values())
    assert revenue["sample_ids"] == []


@pytest.mark.parametrize("report", MONEY_REPORTS)
def test_a_money_report_that_counts_a_row_twice_fails_its_check_naming_the_row(
    report: str, copy_of: Path
) -> None:
    with duckdb.connect(str(copy_of)) as con:
        assert check_money_report(con, report).passed
        first = con.execute(f"select * from reports.{report} limit 1").fetchall()  # noqa: S608 (catalogue name)
        assert first, f"{report} has no row in this world"
        con.execute(
            f"create or replace view reports.{report} as"  # noqa: S608 (catalogue name)
            f" select * from ({report_sql(report)}) union all (select * from ({report_sql(report)}) limit 1)"
        )
        outcome = check_money_report(con, report)
    assert not outcome.passed
    assert len(outcome.mismatched) == 1 and outcome.sample_keys == outcome.mismatched
    result = result_of(outcome)
    assert not result.passed and result.metadata["mismatched"].value == 1


# ---- the reports in the Dagster UI -----------------------------------------------------------------


def _report_metadata(database: Path, rules_file: Path, partition_key: str | None = None) -> dict[str, Any]:
    """The metadata of the ``reports/views`` materialisation, as the Dagster UI shows it."""
    asset = report_views_asset
    if partition_key is not None:
        asset = asset.map_asset_specs(
            lambda spec: spec.replace_attributes(
                partitions_def=dg.StaticPartitionsDefinition([partition_key])
            )
        )
    result = dg.materialize(
        [asset],
        partition_key=partition_key,
        resources={
            "duckdb": DuckDBResource(database=str(database)),
            "rules": RulesResource(config_file=str(rules_file)),
        },
    )
    assert result.success
    (materialisation,) = result.asset_materializations_for_node(asset.node_def.name)
    return {key: value.value for key, value in materialisation.metadata.items()}


def test_a_report_in_the_dagster_ui_shows_its_first_rows_exact_totals_and_a_csv_command_that_works(
    copy_of: Path, money: MoneyWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact, _party = next(iter(money.links.items()))
    with duckdb.connect(str(copy_of)) as con:
        con.execute("delete from raw.xero_invoices")
        con.execute("delete from raw.xero_credit_notes")
        # 10,000 invoices of 0.10 over 25 months: a float sum would not come out at 1,000.00.
        con.execute(
            "insert into raw.xero_invoices (invoice_id, type, status, currency_code, contact__contact_id,"
            " sub_total, total_tax, total, amount_due, date, due_date, _dlt_load_id, _dlt_id)"
            " select 'inv-' || i, 'ACCREC', 'AUTHORISED', 'AUD', $contact, $amount, 0, $amount, $amount,"
            " date '2024-01-15' + to_months(i % 25), date '2026-04-14', 'load', 'id-' || i"
            " from range(10000) as r(i)",
            {"contact": contact, "amount": "0.10"},
        )
    rules_file = tmp_path / "capsule-xero.yaml"
    rules_file.write_text("money:\n  read: [invoices, quotes, payments]\n")
    shown = _report_metadata(copy_of, rules_file)

    revenue = shown["revenue_by_owner"]
    assert "25 rows; the first 20:" in revenue
    table_rows = [line for line in revenue.splitlines() if line.startswith("| 20")]
    assert len(table_rows) == 20 and table_rows[0].startswith("| 2024-01-01 |")
    assert "- Totals (AUD, 25 rows): sub_total 1,000.00 · total_tax 0.00 · total 1,000.00" in revenue
    assert "invoice_count 10,000" in revenue
    command = "capsule-xero report revenue_by_owner --csv revenue_by_owner.csv"
    assert f"`{command}`" in revenue and f"| revenue_by_owner | 25 | `{command}` |" in shown["reports"]

    # The command beside the totals is a real one: the CSV it writes adds up to the same 1,000.00.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    from capsule_xero.settings import Settings

    shutil.copy(copy_of, Settings.from_env().duckdb_path)
    result = CliRunner().invoke(cli.app, command.split()[1:])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "revenue_by_owner.csv").open(encoding="utf-8")))
    assert len(rows) == 25 and sum(Decimal(r["total"]) for r in rows) == Decimal("1000.00")


def test_a_clients_report_in_the_dagster_ui_names_the_client_in_its_csv_command(
    copy_of: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(copy_of)) as con:
        for table in ("xero_invoices", "xero_credit_notes", "xero_quotes", "xero_payments"):
            con.execute(f"drop table raw.{table}")  # money off: its reports say why they are not shown
    rules_file = tmp_path / "capsule-xero.yaml"
    rules_file.write_text("{}\n")
    shown = _report_metadata(copy_of, rules_file, partition_key="acme")
    assert "`capsule-xero --tenant acme report review_queue --csv review_queue.csv`" in shown["review_queue"]
    assert "| receivables | not available: it needs Xero's invoices" in shown["reports"]
    assert "receivables" not in shown

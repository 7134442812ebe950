"""The billing preflight: each kind of bad setting sends the won opportunity's draft to review with a
reason naming the record and the rules key, checked against the organisation's own settings as the
extract read them from the stand-in; a good one plans exactly the line Xero should get."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from capsule_xero.rules.model import Rules
from reverse_etl.plans.create import create_plan
from tests.support.billing_world import (
    KNOWN_PARTY,
    NEW_PARTY,
    NO_VALUE,
    PILOT,
    SUPPLY,
    BillingWorld,
    billing_rules,
    won_world,
)
from transform.reports import read_report
from transform.stages import billing_documents, reconcile, sql_params


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """One extract and reconcile of the won world; each test re-runs only the billing stage."""
    home: Path = tmp_path_factory.mktemp("billing")
    tags = {NEW_PARTY: ["Region:Mars"]}
    with BillingWorld(won_world(tags=tags), home, billing_rules()) as world:
        world.extract()
        con = world.connect()
        reconcile(con, world.rules)
        yield con
        con.close()


def preflight(con: duckdb.DuckDBPyConnection, rules: Rules) -> dict[tuple[int, str], str]:
    billing_documents(con, rules, sql_params(rules))
    rows = con.sql("select opportunity_id, problem, reason from reconcile.billing_preflight").fetchall()
    return {(opportunity, problem): reason for opportunity, problem, reason in rows}


def documents(con: duckdb.DuckDBPyConnection) -> dict[int, dict[str, Any]]:
    result = con.sql("select * from reconcile.billing_documents")
    names = [d[0] for d in result.description]
    return {row[2]: dict(zip(names, row, strict=True)) for row in result.fetchall()}


def test_billing_off_plans_no_document(checked: duckdb.DuckDBPyConnection) -> None:
    assert preflight(checked, Rules()) == {}
    assert documents(checked) == {}


def test_a_won_opportunity_plans_one_exact_line_for_the_partys_contact(
    checked: duckdb.DuckDBPyConnection,
) -> None:
    problems = preflight(
        checked, billing_rules(tracking={"category": "Region", "from_tag_prefix": "Region:"})
    )
    planned = documents(checked)
    assert set(planned) == {PILOT, SUPPLY, NO_VALUE}
    pilot = planned[PILOT]
    assert pilot["reference"] == f"CAP-OPP-{PILOT}" and pilot["kind"] == "quote"
    assert pilot["description"] == "Pilot project" and pilot["quantity"] == 1
    assert pilot["unit_amount"] == Decimal("219462.95") and isinstance(pilot["unit_amount"], Decimal)
    assert (pilot["currency"], pilot["account_code"], pilot["tax_type"]) == ("AUD", "200", "OUTPUT")
    assert (pilot["tracking_category"], pilot["tracking_option"]) == ("Region", "NSW")
    assert pilot["contact_status"] == "known" and pilot["contact_id"]
    assert planned[SUPPLY]["contact_status"] == "created_in_plan" and planned[SUPPLY]["party_id"] == NEW_PARTY
    assert not any(opportunity == PILOT for opportunity, _ in problems)


def test_an_opportunity_without_value_waits_in_review(checked: duckdb.DuckDBPyConnection) -> None:
    problems = preflight(checked, billing_rules())
    assert problems[(NO_VALUE, "value")].startswith(f"opportunity {NO_VALUE} ")
    assert "has no value: give it a value in Capsule" in problems[(NO_VALUE, "value")]


@pytest.mark.parametrize(
    ("billing", "problem", "reason"),
    [
        ({"account_code": "999"}, "account", "account code 999 (billing.account_code) is not in Xero's chart of accounts"),
        ({"account_code": "090"}, "account", "account code 090 (billing.account_code) is Business Bank Account (class ASSET), not a revenue account"),
        ({"tax_type": "NOPE"}, "tax_type", "tax type NOPE (billing.tax_type) is not one of Xero's tax rates"),
        ({"tax_type": "INPUT"}, "tax_type", "tax type INPUT (billing.tax_type, GST on Expenses) cannot be used on revenue"),
        ({"tax_type": "EXEMPTEXPORT"}, "tax_type", "tax type EXEMPTEXPORT (billing.tax_type, GST Free Exports) is archived in Xero"),
        ({"item_code": "NO-SUCH-ITEM"}, "item", "item NO-SUCH-ITEM (billing.item_code) is not one of Xero's items"),
        (
            {"tracking": {"category": "Colour", "from_tag_prefix": "Region:"}},
            "tracking",
            "tracking category Colour (billing.tracking.category) is not an active tracking category in Xero",
        ),
    ],
)  # fmt: skip
def test_each_bad_setting_sends_the_document_to_review_naming_the_record_and_the_rule(
    checked: duckdb.DuckDBPyConnection, billing: dict[str, Any], problem: str, reason: str
) -> None:
    problems = preflight(checked, billing_rules(**billing))
    assert problems[(PILOT, problem)] == reason


def test_an_archived_account_sends_the_document_to_review(checked: duckdb.DuckDBPyConnection) -> None:
    checked.execute("update raw.xero_accounts set status = 'ARCHIVED' where code = '260'")
    try:
        problems = preflight(checked, billing_rules(account_code="260"))
    finally:
        checked.execute("update raw.xero_accounts set status = 'ACTIVE' where code = '260'")
    assert problems[(PILOT, "account")] == "account code 260 (billing.account_code) is archived in Xero"


def test_a_tag_naming_no_option_of_the_tracking_category_sends_the_document_to_review(
    checked: duckdb.DuckDBPyConnection,
) -> None:
    problems = preflight(
        checked, billing_rules(tracking={"category": "Region", "from_tag_prefix": "Region:"})
    )
    assert problems[(SUPPLY, "tracking")] == (
        f"tracking option Mars (from the tag Region:Mars of party {NEW_PARTY}, billing.tracking.from_tag_prefix)"
        " is not an active option of Region in Xero"
    )
    assert (PILOT, "tracking") not in problems  # Region:NSW is an option


def test_a_currency_the_organisation_does_not_use_sends_the_document_to_review(
    checked: duckdb.DuckDBPyConnection,
) -> None:
    checked.execute("update raw.capsule_opportunities set value__currency = 'EUR' where id = ?", [PILOT])
    try:
        problems = preflight(checked, billing_rules())
    finally:
        checked.execute("update raw.capsule_opportunities set value__currency = 'AUD' where id = ?", [PILOT])
    assert problems[(PILOT, "currency")] == (
        f"currency EUR of opportunity {PILOT} is not subscribed in Xero (Settings › Currencies): Xero refuses"
        " the document"
    )


def test_a_party_without_a_xero_contact_sends_the_document_to_review(
    checked: duckdb.DuckDBPyConnection,
) -> None:
    checked.execute(
        "update reconcile.sync_scope set in_scope = false, scope_reason = 'skip_if[0]: tagged VIP' where party_id = ?",
        [KNOWN_PARTY],
    )
    checked.execute(
        "create or replace temp table saved_operations as select * from reconcile.contact_operations where party_id = ?",
        [KNOWN_PARTY],
    )
    checked.execute("delete from reconcile.contact_operations where party_id = ?", [KNOWN_PARTY])
    checked.execute(
        "create or replace temp table saved_matches as select * from reconcile.contact_matches where party_id = ?",
        [KNOWN_PARTY],
    )
    checked.execute("delete from reconcile.contact_matches where party_id = ?", [KNOWN_PARTY])
    try:
        problems = preflight(checked, billing_rules())
    finally:
        checked.execute(
            "update reconcile.sync_scope set in_scope = true, scope_reason = null where party_id = ?",
            [KNOWN_PARTY],
        )
        checked.execute("insert into reconcile.contact_operations select * from saved_operations")
        checked.execute("insert into reconcile.contact_matches select * from saved_matches")
    assert problems[(PILOT, "contact")] == (
        f"party {KNOWN_PARTY} (Whitehead Hardware Australia) is not synced to Xero (skip_if[0]: tagged VIP),"
        " so it has no Xero contact"
    )


def approval_rules(limit: str) -> Rules:
    return Rules.model_validate(
        {
            "billing": {"won_opportunities": "quote", "account_code": "200", "auto_approve_under": limit},
            "approval": {"first_migration_needs_approval": False},
        }
    )


def test_only_a_draft_under_auto_approve_under_in_the_base_currency_goes_without_approval(
    checked: duckdb.DuckDBPyConnection,
) -> None:
    rules = approval_rules("20000")
    billing_documents(checked, rules, sql_params(rules))
    plan = create_plan(checked, rules)
    # SUPPLY (19,009.44 AUD) is under the limit; PILOT (219,462.95 AUD) is not.
    assert (plan.counts["draft_quote"], plan.counts["documents_to_approve"]) == (2, 1)
    assert (
        "1 draft quote to create in Xero (not under billing.auto_approve_under (20000 in the base currency))"
        in plan.approval_reasons
    )
    checked.execute("update raw.capsule_opportunities set value__currency = 'NZD' where id = ?", [SUPPLY])
    try:
        rules = approval_rules("300000")
        billing_documents(checked, rules, sql_params(rules))
        plan = create_plan(checked, rules)
    finally:
        checked.execute("update raw.capsule_opportunities set value__currency = 'AUD' where id = ?", [SUPPLY])
    # Under 300,000 both, but SUPPLY is now in NZD, not the organisation's AUD: it waits.
    assert (plan.counts["draft_quote"], plan.counts["documents_to_approve"]) == (2, 1)
    with_no_limit = Rules.model_validate({"billing": {"won_opportunities": "quote", "account_code": "200"}})
    billing_documents(checked, with_no_limit, sql_params(with_no_limit))
    assert create_plan(checked, with_no_limit).counts["documents_to_approve"] == 2


def test_the_billing_review_report_lists_each_document_the_preflight_stopped(
    checked: duckdb.DuckDBPyConnection,
) -> None:
    rules = billing_rules(account_code="999")
    preflight(checked, rules)
    create_plan(checked, rules)
    columns, values = read_report(checked, "billing_review")
    rows = [dict(zip(columns, row, strict=True)) for row in values]
    reasons = {row["opportunity_id"]: row["reason"] for row in rows}
    assert reasons[PILOT] == "account code 999 (billing.account_code) is not in Xero's chart of accounts"
    assert (
        reasons[NO_VALUE].startswith("account code 999")
        and "has no value: give it a value in Capsule" in reasons[NO_VALUE]
    )
    assert {row["party_id"] for row in rows if row["opportunity_id"] == PILOT} == {KNOWN_PARTY}


def test_a_document_made_found_or_waiting_for_its_lost_answer_is_not_planned_again(
    checked: duckdb.DuckDBPyConnection,
) -> None:
    rules = billing_rules()
    outcome = (
        'insert into ledger.document_outcomes (plan_id, seq, reference, kind, opportunity_id, status, "at")'
        " values (900, ?, ?, 'quote', ?, ?, now())"
    )
    checked.execute(outcome, [1, f"CAP-OPP-{PILOT}", PILOT, "done"])
    checked.execute(outcome, [2, f"CAP-OPP-{NO_VALUE}", NO_VALUE, "exists"])
    checked.execute(
        "insert into ledger.document_outbox values (?, 900, 3, 'quote', 'x', 1, 'k', '{}', now())",
        [f"CAP-OPP-{SUPPLY}"],
    )
    try:
        billing_documents(checked, rules, sql_params(rules))
        assert documents(checked) == {}
        checked.execute("update ledger.document_outcomes set status = 'failed' where plan_id = 900")
        checked.execute("delete from ledger.document_outbox where plan_id = 900")
        billing_documents(checked, rules, sql_params(rules))
        assert set(documents(checked)) == {
            PILOT,
            SUPPLY,
            NO_VALUE,
        }  # a refusal is asked again once inputs change
    finally:
        checked.execute("delete from ledger.document_outcomes where plan_id = 900")
        checked.execute("delete from ledger.document_outbox where plan_id = 900")

"""The rules file's money: and billing: sections: off by default, exact amounts, one-line errors naming the key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from capsule_xero.rules.loading import RulesError, parse_rules
from capsule_xero.rules.model import Rules

ISSUE_BILLING = """\
billing:
  won_opportunities: quote        # off (default) | quote | invoice
  line_amount_types: Exclusive    # Exclusive | Inclusive | NoTax
  account_code: "200"
  tax_type: OUTPUT                # GST on income
  item_code: null                 # optional default item
  tracking: {category: Region, from_tag_prefix: "Region:"}   # optional
  opportunity_field: Xero document  # Capsule opportunity field that receives number + link
"""


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as error:
        parse_rules(text)
    return error.value.problems


def test_without_money_or_billing_nothing_of_xeros_money_is_read_or_written() -> None:
    rules = Rules()
    assert rules.money.read == [] and rules.money.capsule_fields.named() == {}
    assert rules.billing.won_opportunities == "off" and rules.billing.auto_approve_under is None
    assert rules.money_access() == {}


def test_the_issues_billing_section_reads_as_written() -> None:
    billing = parse_rules(ISSUE_BILLING).billing
    assert billing.won_opportunities == "quote" and billing.line_amount_types == "Exclusive"
    assert (billing.account_code, billing.tax_type, billing.item_code) == ("200", "OUTPUT", None)
    assert billing.tracking is not None and billing.tracking.category == "Region"
    assert billing.tracking.from_tag_prefix == "Region:"
    assert billing.opportunity_field == "Xero document"


def test_an_unquoted_off_means_off_although_yaml_reads_it_as_false() -> None:
    assert parse_rules("billing: {won_opportunities: off}").billing.won_opportunities == "off"


def test_account_codes_keep_the_digits_written_not_what_yaml_makes_of_a_number() -> None:
    # YAML 1.1 reads 0200 as the octal number 128.
    billing = parse_rules("billing: {won_opportunities: invoice, account_code: 0200, item_code: 017}").billing
    assert (billing.account_code, billing.item_code) == ("0200", "017")


@pytest.mark.parametrize(
    ("written", "amount"),
    [
        ("5000", Decimal("5000")),
        ("1000.10", Decimal("1000.10")),
        ('"4999.95"', Decimal("4999.95")),
        ("0.1", Decimal("0.1")),
        ("9999999999999999.99", Decimal("9999999999999999.99")),  # more digits than a float holds
    ],
)
def test_auto_approve_under_is_the_exact_decimal_written(written: str, amount: Decimal) -> None:
    value = parse_rules(f"billing: {{auto_approve_under: {written}}}").billing.auto_approve_under
    assert isinstance(value, Decimal) and value == amount and str(value) == str(amount)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("billing: {won_opportunities: yes}", "line 1: billing.won_opportunities: true is not one of off, quote, invoice"),
        ("billing: {won_opportunities: quotes, account_code: 200}", 'billing.won_opportunities: "quotes" is not one of'),
        ("billing: {line_amount_types: exclusive}", 'billing.line_amount_types: "exclusive" is not one of Exclusive, Inclusive, NoTax'),
        ("billing: {won_opportunities: invoice}", "billing: won_opportunities: invoice needs account_code"),
        ("billing: {tax_type: output}", 'billing.tax_type: "output" is not a Xero tax type'),
        ("billing: {account_code: 12345678901}", 'billing.account_code: "12345678901" is longer than 10 characters'),
        ("billing: {tracking: {category: Region}}", "billing.tracking.from_tag_prefix: is missing"),
        ("billing: {tracking: Region}", "billing.tracking: should be a tracking rule"),
        ("billing: {auto_approve_under: 0}", 'billing.auto_approve_under: "0" is not an amount above 0'),
        ("billing: {auto_approve_under: -5}", 'billing.auto_approve_under: "-5" is not an amount above 0'),
        ("billing: {auto_approve_under: 10.005}", 'billing.auto_approve_under: "10.005" has more than 2 decimal places'),
        ("billing: {auto_approve_under: 0.1000000000000000055511151231257827}", "has more than 2 decimal places"),
        ("billing: {auto_approve_under: .inf}", 'billing.auto_approve_under: ".inf" is not an amount'),
        ("billing: {auto_approve_under: lots}", 'billing.auto_approve_under: "lots" is not an amount'),
        ("billing: {auto_approve_under: true}", "billing.auto_approve_under: true is not an amount"),
        ("billing: {approve_under: 5}", 'billing: unknown key "approve_under" (expected one of won_opportunities'),
        ("money: {read: [invoices, bills]}", 'money.read[1]: "bills" is not one of invoices, quotes, payments'),
        ("money: {read: [invoices, invoices]}", 'money.read: "invoices" is listed twice'),
        ("money: {capsule_fields: {outstanding: Owing}}", "money: capsule_fields.outstanding is computed from Xero's invoices: add invoices to money.read"),
        ("money: {read: invoices, capsule_fields: {last_payment_date: Paid}}", "add payments to money.read"),
        ("money: {read: invoices, capsule_fields: {owed: Owing}}", 'money.capsule_fields: unknown key "owed"'),
        ("money: {read: invoices, capsule_fields: {outstanding: Owing, overdue: owing}}", 'money.capsule_fields: "owing" is listed twice'),
        ("money: {read: invoices, capsule_fields: {outstanding: ABN}}", 'money.capsule_fields.outstanding names the field "ABN" that capsule.abn_field already uses'),
    ],
)  # fmt: skip
def test_a_wrong_money_or_billing_value_is_one_line_naming_the_key(text: str, expected: str) -> None:
    found = problems(text)
    assert len(found) == 1 and "\n" not in found[0]
    assert found[0].startswith("capsule-xero.yaml line 1: ") and expected in found[0]


def test_the_error_points_at_the_line_of_the_wrong_key() -> None:
    text = ISSUE_BILLING.replace("tax_type: OUTPUT", "tax_type: gst")
    assert problems(text) == [
        'capsule-xero.yaml line 5: billing.tax_type: "gst" is not a Xero tax type (upper-case, such as OUTPUT or EXEMPTOUTPUT)'
    ]


def test_money_reads_and_billing_decide_the_money_access_the_rules_need() -> None:
    assert parse_rules("money: {read: [quotes]}").money_access() == {"invoices": "read"}
    assert parse_rules("money: {read: [payments]}").money_access() == {"payments": "read"}
    both = parse_rules("money: {read: [invoices, payments]}\n" + ISSUE_BILLING)
    assert both.money_access() == {"invoices": "write", "payments": "read"}


def test_the_capsule_fields_named_are_the_ones_written() -> None:
    rules = parse_rules(
        "money:\n  read: [invoices, payments]\n  capsule_fields:\n    outstanding: Outstanding\n"
        "    last_payment_date: Last payment\n    overdue: null\n"
    )
    assert rules.money.capsule_fields.named() == {
        "outstanding": "Outstanding",
        "last_payment_date": "Last payment",
    }


def test_the_fingerprint_changes_with_money_and_billing_but_not_for_their_defaults() -> None:
    default = Rules().fingerprint()
    spelled_out = "money: {read: [], capsule_fields: {outstanding: null}}\nbilling: {won_opportunities: off, line_amount_types: Exclusive}"
    assert parse_rules(spelled_out).fingerprint() == default
    changed = {
        parse_rules("money: {read: invoices}").fingerprint(),
        parse_rules("money: {read: invoices, capsule_fields: {outstanding: Owing}}").fingerprint(),
        parse_rules("billing: {tax_type: OUTPUT}").fingerprint(),
        parse_rules("billing: {auto_approve_under: 100}").fingerprint(),
        parse_rules("billing: {auto_approve_under: 100.01}").fingerprint(),
        parse_rules(ISSUE_BILLING).fingerprint(),
    }
    assert default not in changed and len(changed) == 6

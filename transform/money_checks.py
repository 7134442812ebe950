"""Each money report's totals against Xero's own totals for the same documents, per currency.

One query per report (``transform/sql/money_checks/<report>.sql``) puts, per key of the report (a
party, a month, a tag and month, a contact, an opportunity) and currency, the report's total and
document count beside the same figures summed straight from the raw documents. A key where they
differ (a document counted twice, one left out, an amount that drifted) fails the check and is named
in ``sample_keys``. No Dagster here (assets/money_checks.py wraps these as asset checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import duckdb

from transform.reports import why_unavailable
from transform.sql import SQL_DIR

CHECKS_DIR = SQL_DIR / "money_checks"
MONEY_REPORTS = (
    "receivables",
    "overdue_with_open_opportunities",
    "won_not_invoiced",
    "revenue_by_owner",
    "revenue_by_tag",
    "pipeline_vs_revenue",
    "xero_customers_unknown",
)
SAMPLES = 10
ZERO = Decimal(0)


@dataclass
class MoneyCheck:
    """How one report's totals compare with Xero's; ``unavailable`` says why nothing was compared."""

    report: str
    keys: int = 0
    report_documents: int = 0
    xero_documents: int = 0
    # currency → (report total, Xero total), as text: exact, and JSON-safe for the metadata
    totals: dict[str, tuple[str, str]] = field(default_factory=dict)
    mismatched: list[str] = field(default_factory=list)
    unavailable: str | None = None

    @property
    def passed(self) -> bool:
        return not self.mismatched

    @property
    def sample_keys(self) -> list[str]:
        return self.mismatched[:SAMPLES]


def check_sql(report: str) -> str:
    if report not in MONEY_REPORTS:
        raise KeyError(report)
    return (CHECKS_DIR / f"{report}.sql").read_text()


def check_money_report(con: duckdb.DuckDBPyConnection, report: str) -> MoneyCheck:
    """Compare ``reports.<report>`` with the raw documents it was built from (see the module doc)."""
    outcome = MoneyCheck(report)
    reason = why_unavailable(con, report)
    if reason:
        outcome.unavailable = reason
        return outcome
    rows = con.execute(check_sql(report)).fetchall()
    sums: dict[str, list[Decimal]] = {}
    for key, currency, report_total, xero_total, report_documents, xero_documents in rows:
        mine, theirs = report_total or ZERO, xero_total or ZERO
        currency_sums = sums.setdefault(currency or "", [ZERO, ZERO])
        currency_sums[0] += mine
        currency_sums[1] += theirs
        outcome.keys += 1
        outcome.report_documents += int(report_documents or 0)
        outcome.xero_documents += int(xero_documents or 0)
        if mine != theirs or (report_documents or 0) != (xero_documents or 0):
            outcome.mismatched.append(f"{key} {currency}")
    outcome.mismatched.sort()
    outcome.totals = {currency: (str(mine), str(theirs)) for currency, (mine, theirs) in sorted(sums.items())}
    return outcome

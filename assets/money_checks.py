"""Asset checks on the money reports: each report's totals equal Xero's own totals for the same
documents, per currency (transform/money_checks.py). Not blocking: a wrong report is worth a red
check and a look, not a stopped sync. With money off (no money tables) a check passes and says so."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.stages import asset_key
from transform.money_checks import MONEY_REPORTS, MoneyCheck, check_money_report


def result_of(outcome: MoneyCheck) -> dg.AssetCheckResult:
    """The check's result: passed, and counts, totals per currency and sample keys as metadata."""
    metadata: dict[str, object] = {"report": outcome.report}
    if outcome.unavailable:
        metadata["not_checked"] = f"the report is not available: {outcome.unavailable}"
    else:
        metadata |= {
            "keys": outcome.keys,
            "report_documents": outcome.report_documents,
            "xero_documents": outcome.xero_documents,
            "totals_by_currency": dg.MetadataValue.json(
                {
                    currency: {"report": mine, "xero": theirs}
                    for currency, (mine, theirs) in outcome.totals.items()
                }
            ),
            "mismatched": len(outcome.mismatched),
            "sample_ids": dg.MetadataValue.json(outcome.sample_keys),
        }
    return dg.AssetCheckResult(passed=outcome.passed, metadata=metadata)


def money_report_check(
    report: str, partitions_def: dg.PartitionsDefinition | None = None
) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        partitions_def=partitions_def,
        asset=asset_key("reports.views"),
        name=f"{report}_totals_equal_xero",
        description=f"The {report} report adds up to Xero's own totals for the same documents, per "
        "currency: a document counted twice or left out turns it red, with the rows that differ.\n\n"
        "See docs/reports.md#money-reports.",
    )
    def check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            return result_of(check_money_report(con, report))

    return check


def build_money_checks(
    partitions_def: dg.PartitionsDefinition | None = None,
) -> list[dg.AssetChecksDefinition]:
    """Every report's check; with tenants, partitioned as the reports are (assets/tenancy.py)."""
    return [money_report_check(report, partitions_def) for report in MONEY_REPORTS]


MONEY_CHECKS = build_money_checks()

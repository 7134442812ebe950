"""Blocking asset checks: the row rules on staged parties and the planned writes Xero would refuse.

A row that breaks a rule is held back (quarantined, or left out of the plan) and the other rows go on;
a check fails, and stops the run before anything downstream, only on schema drift or when the share
of rejected parties passes the rules file's ``validation.max_reject_share``.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.resources import RulesResource
from assets.stages import asset_key
from transform.planned_rejects import build_planned_rejects
from transform.quarantine import quarantine, staged_parties


def build_checks(partitions_def: dg.PartitionsDefinition | None = None) -> list[dg.AssetChecksDefinition]:
    """The row-rule checks; with tenants, partitioned as their assets are (assets/tenancy.py)."""

    @dg.asset_check(asset=asset_key("staging.capsule_parties"), blocking=True, partitions_def=partitions_def)
    def capsule_parties_follow_the_row_rules(
        duckdb: DuckDBResource, rules: RulesResource
    ) -> dg.AssetCheckResult:
        """Stops the run when more Capsule parties have a bad value (ABN, e-mail, phone, no name) than the
        rules file's validation.max_reject_share allows, or when the data's shape changed; fewer are
        held back in the quarantine and the rest sync.

        See docs/architecture.md#data-flow (step 3, Validate)."""
        max_share = rules.load().validation.max_reject_share
        with duckdb.get_connection() as con:
            parties = staged_parties(con)
        rows, drift = quarantine(parties)
        rejected = rows["record_id"].nunique() if len(rows) else 0
        share = rejected / len(parties) if len(parties) else 0.0
        return dg.AssetCheckResult(
            passed=not drift and share <= max_share,
            metadata={
                "parties": len(parties),
                "quarantined_parties": int(rejected),
                "reject_share": round(share, 4),
                "max_reject_share": max_share,
                "schema_drift": dg.MetadataValue.json(drift[:20]),
                "sample_ids": dg.MetadataValue.json(sorted(set(rows["record_id"]))[:10] if len(rows) else []),
            },
        )

    @dg.asset_check(
        asset=asset_key("reconcile.contact_operations"), blocking=True, partitions_def=partitions_def
    )
    def planned_operations_are_writes_xero_accepts(
        duckdb: DuckDBResource, rules: RulesResource
    ) -> dg.AssetCheckResult:
        """Holds back planned writes Xero would refuse (a field too long, an ABN of the wrong shape, more
        than 5 contact persons) so they go to review, not to Xero; stops the run when too many would.

        See docs/mapping.md#preflight-what-xero-would-refuse."""
        max_share = rules.load().validation.max_reject_share
        with duckdb.get_connection() as con:
            rejects, drift, planned = build_planned_rejects(con)
        held_back = len(set(rejects["party_id"]))
        share = held_back / planned if planned else 0.0
        return dg.AssetCheckResult(
            passed=not drift and share <= max_share,
            metadata={
                "planned_writes": planned,
                "held_back": held_back,
                "reject_share": round(share, 4),
                "max_reject_share": max_share,
                "by_rule": dg.MetadataValue.json(
                    rejects.groupby("rule").size().astype(int).to_dict() if len(rejects) else {}
                ),
                "schema_drift": dg.MetadataValue.json(drift[:20]),
                "sample_ids": dg.MetadataValue.json(sorted({int(i) for i in rejects["party_id"]})[:10]),
            },
        )

    return [capsule_parties_follow_the_row_rules, planned_operations_are_writes_xero_accepts]


CHECKS = build_checks()
capsule_parties_follow_the_row_rules, planned_operations_are_writes_xero_accepts = CHECKS

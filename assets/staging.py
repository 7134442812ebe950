"""Staging assets: one normalised row per Capsule party and per Xero contact (schema ``staging``)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.extract import DUCKDB_POOL
from assets.resources import RulesResource
from reverse_etl.ledger.schema import ensure_ledger
from transform.sql import build
from transform.stages import sql_params
from transform.validation import build_quarantine, quarantine, staged_parties


@dg.asset(
    key=["staging", "capsule_parties"],
    deps=[dg.AssetKey(["capsule", "parties"]), dg.AssetKey(["capsule", "deleted_parties"])],
    group_name="staging",
    pool=DUCKDB_POOL,
    kinds={"duckdb", "sql"},
)
def staging_capsule_parties(duckdb: DuckDBResource, rules: RulesResource) -> dg.MaterializeResult:
    """One row per Capsule party: valid e-mail, E.164 phone, checked ABN, company domain, folded name."""
    with duckdb.get_connection() as con:
        ensure_ledger(con)  # the model reads this tool's own write-backs to Capsule
        rows = build(con, "staging", "capsule_parties", sql_params(rules.load()))
        ((bad_abn, bad_email, bad_phone, deleted),) = con.sql(
            "select count(*) filter (where abn_problem is not null), count(*) filter (where bad_emails > 0),"
            " count(*) filter (where bad_phones > 0), count(*) filter (where is_deleted)"
            " from staging.capsule_parties"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "abn_problems": bad_abn,
            "parties_with_bad_emails": bad_email,
            "parties_with_bad_phones": bad_phone,
            "deleted_in_capsule": deleted,
        }
    )


@dg.asset(
    key=["staging", "xero_contacts"],
    deps=[dg.AssetKey(["xero", "contacts"])],
    group_name="staging",
    pool=DUCKDB_POOL,
    kinds={"duckdb", "sql"},
)
def staging_xero_contacts(duckdb: DuckDBResource, rules: RulesResource) -> dg.MaterializeResult:
    """One row per Xero contact (archived included): ABN from TaxNumber, E.164 phones, folded name."""
    with duckdb.get_connection() as con:
        rows = build(con, "staging", "xero_contacts", sql_params(rules.load()))
        ((archived, with_abn),) = con.sql(
            "select count(*) filter (where is_archived), count(*) filter (where abn is not null)"
            " from staging.xero_contacts"
        ).fetchall()
    return dg.MaterializeResult(metadata={"rows": rows, "archived": archived, "with_valid_abn": with_abn})


@dg.asset(
    key=["staging", "quarantine"],
    deps=[staging_capsule_parties],
    group_name="staging",
    pool=DUCKDB_POOL,
    kinds={"duckdb", "pandera"},
)
def staging_quarantine(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Capsule values and parties that break a row rule, with the rule, the field, the value and the effect."""
    with duckdb.get_connection() as con:
        rows, _ = build_quarantine(con)
    by_rule = rows.groupby("rule").size().to_dict() if len(rows) else {}
    return dg.MaterializeResult(
        metadata={
            "rows": len(rows),
            "by_rule": dg.MetadataValue.json({k: int(v) for k, v in by_rule.items()}),
        }
    )


@dg.asset_check(asset=staging_capsule_parties, blocking=True)
def capsule_parties_follow_the_row_rules(duckdb: DuckDBResource, rules: RulesResource) -> dg.AssetCheckResult:
    """Fails on schema drift, or when more parties break a row rule than the rules file allows."""
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

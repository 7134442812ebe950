"""Staging assets: one normalised row per Capsule party and per Xero contact (schema ``staging``)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.extract import DUCKDB_POOL
from assets.sql import build
from assets.validation import MAX_REJECT_SHARE, build_quarantine, quarantine

# The Capsule custom fields holding the ABN and Xero's ContactID (DESIGN.md mapping table); the
# rules file will make them configurable. They are bound as parameters, never pasted into SQL.
STAGING_PARAMS = {"abn_field": "ABN", "xero_id_field": "Xero Contact ID"}
# ContactNumber = prefix + Capsule id (DESIGN.md mapping); name-only matches (0.6) pass by default.
MATCH_PARAMS = {"contact_number_prefix": "CAP-", "min_confidence": 0.6}


@dg.asset(
    key=["staging", "capsule_parties"],
    deps=[dg.AssetKey(["capsule", "parties"]), dg.AssetKey(["capsule", "deleted_parties"])],
    group_name="staging",
    pool=DUCKDB_POOL,
    kinds={"duckdb", "sql"},
)
def staging_capsule_parties(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """One row per Capsule party: valid e-mail, E.164 phone, checked ABN, company domain, folded name."""
    with duckdb.get_connection() as con:
        rows = build(con, "staging", "capsule_parties", STAGING_PARAMS)
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
def staging_xero_contacts(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """One row per Xero contact (archived included): ABN from TaxNumber, E.164 phone, folded name."""
    with duckdb.get_connection() as con:
        rows = build(con, "staging", "xero_contacts")
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
    """Capsule parties that break a row rule, with the rule, the field and the value: they are not synced."""
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
def capsule_parties_follow_the_row_rules(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Fails on schema drift, or when more than 20% of parties break a row rule (those are quarantined)."""
    with duckdb.get_connection() as con:
        parties = con.sql("select * from staging.capsule_parties").df()
    rows, drift = quarantine(parties)
    rejected = rows["record_id"].nunique() if len(rows) else 0
    share = rejected / len(parties) if len(parties) else 0.0
    return dg.AssetCheckResult(
        passed=not drift and share <= MAX_REJECT_SHARE,
        metadata={
            "parties": len(parties),
            "quarantined_parties": int(rejected),
            "reject_share": round(share, 4),
            "max_reject_share": MAX_REJECT_SHARE,
            "schema_drift": dg.MetadataValue.json(drift[:20]),
            "sample_ids": dg.MetadataValue.json(sorted(set(rows["record_id"]))[:10] if len(rows) else []),
        },
    )


@dg.asset(
    key=["reconcile", "contact_matches"],
    deps=[staging_capsule_parties, staging_xero_contacts],
    group_name="reconcile",
    pool=DUCKDB_POOL,
    kinds={"duckdb", "sql"},
)
def contact_matches(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Each syncable Capsule party's Xero contact: the rule that matched, its confidence, or why it waits for review."""
    with duckdb.get_connection() as con:
        rows = build(con, "reconcile", "contact_matches", MATCH_PARAMS)
        by_outcome = dict(
            con.sql("select outcome, count(*) from reconcile.contact_matches group by all").fetchall()
        )
        by_rule = dict(
            con.sql(
                "select match_rule, count(*) from reconcile.contact_matches where outcome = 'matched' group by all"
            ).fetchall()
        )
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "matched": by_outcome.get("matched", 0),
            "new": by_outcome.get("new", 0),
            "review": by_outcome.get("review", 0),
            "matched_by_rule": dg.MetadataValue.json(by_rule),
        }
    )

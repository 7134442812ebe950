"""Staging assets: one normalised row per Capsule party and per Xero contact (schema ``staging``)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.extract import DUCKDB_POOL
from assets.sql import build

# The Capsule custom fields holding the ABN and Xero's ContactID (DESIGN.md mapping table); the
# rules file will make them configurable. They are bound as parameters, never pasted into SQL.
STAGING_PARAMS = {"abn_field": "ABN", "xero_id_field": "Xero Contact ID"}


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

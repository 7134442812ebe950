"""Staging assets (schema ``staging``): one normalised row per Capsule party and per Xero contact, and
the quarantine of broken values. Each runs its stage of transform/stages.py (assets/stages.py)."""

from typing import Any

import dagster as dg
import duckdb

from assets.queues import quarantine_view, queue_metadata
from assets.stages import counts, stage_asset


@stage_asset("staging.capsule_parties")
def staging_capsule_parties(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Each Capsule party tidied for matching: e-mails checked, phones in international form, the ABN's
    check digits checked, and the name written one way so "ACME Pty Ltd" and "Acme" can meet.

    See docs/mapping.md#field-by-field."""
    ((bad_abn, bad_email, bad_phone, deleted),) = con.sql(
        "select count(*) filter (where abn_problem is not null), count(*) filter (where bad_emails > 0),"
        " count(*) filter (where bad_phones > 0), count(*) filter (where is_deleted)"
        " from staging.capsule_parties"
    ).fetchall()
    return {
        "rows": rows["staging.capsule_parties"],
        "abn_problems": bad_abn,
        "parties_with_bad_emails": bad_email,
        "parties_with_bad_phones": bad_phone,
        "deleted_in_capsule": deleted,
    }


@stage_asset("staging.xero_contacts")
def staging_xero_contacts(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Each Xero contact (archived ones too) tidied the same way: the ABN from its Tax Number, phones in
    international form, the name written one way for matching.

    See docs/mapping.md#field-by-field."""
    ((archived, with_abn),) = con.sql(
        "select count(*) filter (where is_archived), count(*) filter (where abn is not null)"
        " from staging.xero_contacts"
    ).fetchall()
    return {"rows": rows["staging.xero_contacts"], "archived": archived, "with_valid_abn": with_abn}


@stage_asset("staging.quarantine", kinds=("duckdb", "pandera"))
def staging_quarantine(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Capsule values the sync will not send (a bad ABN, e-mail or phone; a party without a name), with
    the rule, the field, the value and what it costs: fix them in Capsule and the next sync sends them.

    See docs/architecture.md#data-flow (step 3, Validate)."""
    by_rule = counts(con, "select rule, count(*) from staging.quarantine group by all")
    return {
        "rows": rows["staging.quarantine"],
        "by_rule": dg.MetadataValue.json(by_rule),
        **queue_metadata(quarantine_view(con)),
    }


STAGING_ASSETS = [staging_capsule_parties, staging_xero_contacts, staging_quarantine]

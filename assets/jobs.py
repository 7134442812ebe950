"""Jobs: the incremental sync the sensors start, the nightly reconciliation and the first migration.

``incremental_sync_job`` runs every asset (ingest → stage → reconcile → report → plan and apply).
A dry run until configured: the writer reads ``CAPSULE_XERO_APPLY`` (default false) when the run
starts. Once it is true, the approval limits of the rules file still hold any plan that is large or
archives contacts (``capsule-xero approve PLAN``), so what applies unattended is the small, safe plan
that applies automatically (docs/architecture.md#plans-and-approval). The Launchpad can set
``apply`` for one run.

``nightly_reconciliation_job`` re-reads and re-reconciles everything up to the reports but plans
nothing: it is the full report and the conflict and drift summary, not a write. Its Xero read is
a full one (``full_read: true``): balance and customer/supplier flags change without moving
``UpdatedDateUTC`` (docs/api-facts.md#xero-reading-contacts), so only a full read sees them.

Every job is retried by Dagster's daemon (run retries, enabled in the instance's dagster.yaml by
cli/ui.py) up to ``RUN_RETRIES`` times from the step that failed: an outage of Capsule or
Xero longer than the clients' own retries, or a step that waited too long for the home's lock, gets
a second and a third chance before ``alert_on_failed_run`` tells a person (assets/sensors/alerts.py).
Re-running is safe: extracts resume from their cursors and the writer settles an interrupted apply
from its outbox before it sends anything (docs/architecture.md#the-ledger-and-the-outbox).
"""

import dagster as dg

from assets.writeback import xero_contacts_written

RUN_RETRIES = 2
# Dagster's run-retry tags (docs.dagster.io, "Run retries"): the daemon re-executes a failed run from
# its failed step, and marks the failed run dagster/will_retry=true while another attempt follows.
RETRIED = {"dagster/max_retries": str(RUN_RETRIES), "dagster/retry_strategy": "FROM_FAILURE"}

READ_AND_RECONCILE = dg.AssetSelection.key_prefixes(
    ["capsule"], ["xero"], ["staging"], ["reconcile"], ["reports"]
)

incremental_sync_job = dg.define_asset_job(
    name="incremental_sync_job",
    selection=READ_AND_RECONCILE | dg.AssetSelection.key_prefixes(["reverse_etl"]),
    description=(
        "Read what changed in Capsule and Xero, reconcile, and write the plan to Xero when it is "
        "within the approval limits, once CAPSULE_XERO_APPLY=true (or apply: true in the run config)."
    ),
    tags=RETRIED,
)

nightly_reconciliation_job = dg.define_asset_job(
    name="nightly_reconciliation_job",
    selection=READ_AND_RECONCILE,
    description=(
        "Re-read both systems (Xero in full) and rebuild every reconcile table and report: the "
        "conflict and drift summary of the night. Writes nothing to Xero."
    ),
    tags=RETRIED,
    config={"ops": {"xero_extract": {"config": {"full_read": True}}}},
)

historical_migration_job = dg.define_asset_job(
    name="historical_migration_job",
    selection=READ_AND_RECONCILE | dg.AssetSelection.key_prefixes(["reverse_etl"]),
    description=(
        "The first migration, step one: read both systems whole, reconcile, and store the plan as a "
        "dry run with the data-quality and reconciliation reports. Cut over with `capsule-xero plan`, "
        "`capsule-xero approve N` and `capsule-xero apply N` (a progress bar; resumable after any stop)."
    ),
    tags=RETRIED,
    config={
        "ops": {
            "xero_extract": {"config": {"full_read": True}},
            # Never writes, whatever CAPSULE_XERO_APPLY says: a first migration is cut over by a person.
            xero_contacts_written.key.to_python_identifier(): {"config": {"apply": False}},
        }
    },
)

JOBS = [incremental_sync_job, nightly_reconciliation_job, historical_migration_job]

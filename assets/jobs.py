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

from typing import Any

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from assets.tenancy import tenant_tags
from assets.writeback import xero_contacts_written

RUN_RETRIES = 2
# Dagster's run-retry tags (docs.dagster.io, "Run retries"): the daemon re-executes a failed run from
# its failed step, and marks the failed run dagster/will_retry=true while another attempt follows.
RETRIED = {"dagster/max_retries": str(RUN_RETRIES), "dagster/retry_strategy": "FROM_FAILURE"}

READ_AND_RECONCILE = dg.AssetSelection.key_prefixes(
    ["capsule"], ["xero"], ["staging"], ["reconcile"], ["reports"]
)

INCREMENTAL_SYNC = "incremental_sync_job"
NIGHTLY_RECONCILIATION = "nightly_reconciliation_job"
HISTORICAL_MIGRATION = "historical_migration_job"


def _job(
    name: str,
    selection: dg.AssetSelection,
    description: str,
    config: dict[str, Any] | None,
    partitions_def: dg.PartitionsDefinition | None,
) -> UnresolvedAssetJobDefinition:
    if partitions_def is None:
        return dg.define_asset_job(
            name=name, selection=selection, description=description, tags=RETRIED, config=config
        )
    # A run for a partition is a run for that client: its tag is what the run queue limits to one
    # run per client (cli/deploy.py), whoever launched it (the UI's partition picker, a backfill,
    # a schedule or a sensor). The job's own run config stays the same for every client.
    return dg.define_asset_job(
        name=name,
        selection=selection,
        description=description,
        tags=RETRIED,
        config=dg.PartitionedConfig(
            partitions_def=partitions_def,
            run_config_for_partition_key_fn=lambda _key: dict(config or {}),
            tags_for_partition_key_fn=tenant_tags,
        ),
    )


def build_jobs(
    partitions_def: dg.PartitionsDefinition | None = None,
) -> list[UnresolvedAssetJobDefinition]:
    """The three jobs; with tenants (assets/tenancy.py), partitioned by client."""
    return [
        _job(
            INCREMENTAL_SYNC,
            READ_AND_RECONCILE | dg.AssetSelection.key_prefixes(["reverse_etl"]),
            "Read what changed in Capsule and Xero, reconcile, and write the plan to Xero when it is "
            "within the approval limits, once CAPSULE_XERO_APPLY=true (or apply: true in the run config). "
            "A larger plan waits for a person's approval.\n\nSee docs/operations.md#running-dagster.",
            None,
            partitions_def,
        ),
        _job(
            NIGHTLY_RECONCILIATION,
            READ_AND_RECONCILE,
            "Re-read both systems (Xero in full) and rebuild every reconcile table and report: the "
            "conflict and drift summary of the night. Writes nothing to Xero.\n\n"
            "See docs/operations.md#when-the-automatic-runs-happen-and-what-they-cost.",
            {"ops": {"xero_extract": {"config": {"full_read": True}}}},
            partitions_def,
        ),
        _job(
            HISTORICAL_MIGRATION,
            READ_AND_RECONCILE | dg.AssetSelection.key_prefixes(["reverse_etl"]),
            "The first migration, step one: read both systems whole, reconcile, and store the plan as a "
            "dry run with the data-quality and reconciliation reports. Cut over with `capsule-xero plan`, "
            "`capsule-xero approve N` and `capsule-xero apply N` (a progress bar; resumable after any stop)."
            "\n\nSee docs/operations.md#the-first-sync.",
            {
                "ops": {
                    "xero_extract": {"config": {"full_read": True}},
                    # Never writes, whatever CAPSULE_XERO_APPLY says: a first migration is cut over by a person.
                    xero_contacts_written.key.to_python_identifier(): {"config": {"apply": False}},
                }
            },
            partitions_def,
        ),
    ]


JOBS = build_jobs()
incremental_sync_job, nightly_reconciliation_job, historical_migration_job = JOBS

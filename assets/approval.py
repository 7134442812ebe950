"""``approve_and_apply_plan``: approve a plan and write it to Xero from the Dagster UI's Launchpad
(docs/operations.md#approving-a-plan-in-the-dagster-ui).

The run config names the plan and its content hash, both shown on the writer asset's materialisation
(``plan``, ``plan_hash``), so a person approves exactly the plan they read: a plan whose number and
hash disagree is not that plan. The run refuses, with the reason on one line and nothing approved or
written, a wrong hash, a plan that is not the newest (superseded: a newer plan holds what is left to
do), one already applied, empty or gone, and one that no longer fits Xero (read again first, as
``capsule-xero apply`` does) or the rules file. Otherwise it approves a waiting plan, recording who
(``approved_by``, else ``DAGSTER_USER``) and the run, then applies it exactly once
(reverse_etl.apply.loop.apply_plan: a plan already approved, or whose apply was interrupted, is
applied or finished with the approval it has). The apply is recorded as a materialisation of the
writer asset, so its page shows what was written.

No run retries: a refusal is final, and an apply stopped by Xero (unavailable, the daily limit) is
finished by the next ``capsule-xero sync --apply`` or a new run of this job, nothing sent twice.
"""

import os
from typing import Optional

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets.resources import DAGSTER_WAIT_SECONDS, DUCKDB_POOL, RulesResource
from assets.tenancy import settings_for_run, tenant_tags
from assets.writeback import plan_metadata, plan_table_metadata, written_metadata, xero_contacts_written
from capsule_xero.home_lock import home_lock
from capsule_xero.progress import APPLY_STAGES, ThrottledReporter
from pipelines.xero import run_xero_extract, xero_error
from reverse_etl.apply.loop import apply_plan
from reverse_etl.apply.result import APPLICABLE
from reverse_etl.plans.approval import approve
from reverse_etl.plans.model import Plan, PlanError
from reverse_etl.plans.staleness import check_plan_is_current
from reverse_etl.plans.store import load_plan, no_such_plan

APPROVE_AND_APPLY = "approve_and_apply_plan"
DOCS = "docs/operations.md#approving-a-plan-in-the-dagster-ui"


class ApprovalConfig(dg.Config):
    """The plan to approve and apply, as the writer asset's materialisation shows it."""

    plan: int = Field(description="The plan's number (`plan` on the writer asset's materialisation).")
    plan_hash: str = Field(
        description="The plan's content hash (`plan_hash`, beside the number): the run refuses a plan "
        "whose hash differs, so what is approved is exactly the plan that was read."
    )
    approved_by: Optional[str] = Field(  # noqa: UP045 - Dagster's config schema needs Optional
        default=None,
        description="Who approves, recorded in the plan; unset: DAGSTER_USER, when the UI's host sets it.",
    )


def refusal(plan: Plan | None, config: ApprovalConfig, latest: Plan | None) -> str | None:
    """Why this run must not approve or apply the plan (before Xero is read); None when it may."""
    wanted = config.plan
    if plan is None or latest is None:
        return None  # no_such_plan words it
    if plan.status == "superseded" or latest.plan_id != wanted:
        return (
            f"Plan {wanted} is out of date: plan {latest.plan_id} was made from a newer reconcile. "
            f"Read plan {latest.plan_id} on the writer asset (reverse_etl/xero_contacts_written) and approve that one."
        )
    if not plan.content_hash or config.plan_hash.strip().lower() != plan.content_hash.lower():
        return (
            f"Plan {wanted}'s hash is {plan.content_hash or 'not recorded'}, not {config.plan_hash.strip()!r}: "
            f"this is not the plan that was read. Read plan {wanted} on the writer asset again and copy its plan_hash."
        )
    if plan.status == "pending_approval" or plan.status in APPLICABLE:
        return None
    return f"Plan {wanted} is {plan.status.replace('_', ' ')}: there is nothing to approve or write."


@dg.op(
    name="approve_and_apply",
    pool=DUCKDB_POOL,
    description="Check the plan's number and hash, read Xero, then approve the plan and write it once.",
)
def approve_and_apply(
    context: dg.OpExecutionContext, config: ApprovalConfig, duckdb: DuckDBResource, rules: RulesResource
) -> None:
    settings = settings_for_run(context.run)
    loaded = rules.load()
    with duckdb.get_connection() as con:
        plan, latest = load_plan(con, config.plan), load_plan(con)
        why = "no plan yet" if latest is None else refusal(plan, config, latest)
        if plan is None:
            why = str(no_such_plan(con, config.plan))
    if why is not None:
        raise dg.Failure(description=f"{why} Nothing was approved or written.")
    assert plan is not None
    step = f"Dagster run {context.run_id[:8]} ({APPROVE_AND_APPLY})"
    with home_lock(settings.home, step, wait=DAGSTER_WAIT_SECONDS):
        try:
            run_xero_extract(settings, rules=loaded)
        except Exception as exc:
            raise (xero_error(exc) or exc) from None
    who = config.approved_by or os.environ.get("DAGSTER_USER") or None
    progress = ThrottledReporter(context.log.info, names=APPLY_STAGES)
    with duckdb.get_connection() as con:
        try:
            # The stale check apply_plan makes too, before approving: a plan that no longer fits Xero
            # or the rules is refused with nothing approved.
            check_plan_is_current(con, plan.plan_id, loaded)
            if plan.status == "pending_approval":
                plan = approve(con, plan.plan_id, approved_by=who, approved_in_run=context.run_id)
        except PlanError as exc:
            raise dg.Failure(description=f"{exc} Nothing was approved or written.") from None
        context.log.info(
            f"Plan {plan.plan_id} approved by {plan.approved_by or 'an unnamed user'}"
            f" in run {plan.approved_in_run or '(before this run)'}; writing it."
        )
        try:
            result = apply_plan(con, settings, loaded, plan.plan_id, on_progress=progress)
        except PlanError as exc:
            raise dg.Failure(description=f"{exc} Nothing was written.") from None
        shown = plan_table_metadata(con, plan)
    metadata = {
        **plan_metadata(plan),
        **shown,
        "approved_by": plan.approved_by or "",
        "approved_in_run": plan.approved_in_run or "",
        **written_metadata(result, progress),
    }
    context.log_event(
        dg.AssetMaterialization(
            asset_key=xero_contacts_written.key,
            partition=context.partition_key if context.has_partition_key else None,
            description=f"Plan {plan.plan_id} approved and applied by run {context.run_id[:8]}.",
            metadata=metadata,
        )
    )
    if not result.complete:
        raise dg.Failure(
            description=f"Plan {plan.plan_id} is {result.status.replace('_', ' ')}: "
            f"{result.stopped or 'not every operation reached Xero'}. Run this job again (nothing is sent twice).",
            metadata={"plan": plan.plan_id},
        )


@dg.graph(name=APPROVE_AND_APPLY)
def _approve_and_apply_graph() -> None:
    approve_and_apply()


def approve_and_apply_plan_job(partitions_def: dg.PartitionsDefinition | None = None) -> dg.JobDefinition:
    """The job; with tenants (assets/tenancy.py), partitioned by client like the others, each run
    tagged with its client (the run queue's one run per client)."""
    config = (
        None
        if partitions_def is None
        else dg.PartitionedConfig(
            partitions_def=partitions_def,
            run_config_for_partition_key_fn=lambda _key: {},
            tags_for_partition_key_fn=tenant_tags,
        )
    )
    return _approve_and_apply_graph.to_job(
        name=APPROVE_AND_APPLY,
        description="Approve a plan and write it to Xero. In the Launchpad give `plan` and `plan_hash` as the "
        "writer asset (reverse_etl/xero_contacts_written) shows them, and `approved_by`; a wrong hash or an "
        f"out-of-date plan is refused with nothing written. ({DOCS})",
        partitions_def=partitions_def,
        config=config,
        executor_def=dg.in_process_executor,
    )


approve_and_apply_plan = approve_and_apply_plan_job()

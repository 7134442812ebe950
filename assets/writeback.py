"""The reverse-ETL asset: plan the diff and, once configured to, apply it to Xero exactly once.

A dry run by default: the plan is stored and shown, nothing is written until ``CAPSULE_XERO_APPLY``
is true or the run config says ``apply: true`` (Launchpad, or a schedule's config). Plans over the
rules file's approval limits wait for ``capsule-xero approve PLAN`` whatever the config says. A plan
whose apply was interrupted (a run killed, Xero's daily limit) stands while it still fits Xero, so
this asset finishes it with the approval it had before anything newer is planned
(reverse_etl/plans.py). ``finish_interrupted_plan: N`` (the runs assets/sensors/daily_limit.py asks
for once Xero's day has turned, after reading Xero) is ``capsule-xero apply N`` in a run: it plans
nothing and writes plan N only, while its apply is interrupted, whatever ``apply`` says (a person
approved it and started applying it); a plan that no longer fits Xero is left to the next sync.

Progress: Dagster has no live metadata mid-step (an asset's metadata is written once, when it
materialises), so while the plan is written the step logs each stage's figures (done of total, calls
made, Xero calls left today, ETA) at most every ~10 s, and the last figures of every stage go into the
materialisation's metadata (``progress_<stage>_...``).
"""

from typing import Any, Optional

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets.queues import error_queue_metadata, with_error_queue
from assets.resources import DAGSTER_WAIT_SECONDS, DUCKDB_POOL, RulesResource, dagster_step
from assets.stages import asset_key
from assets.tenancy import settings_for_run
from capsule_xero.home_lock import home_lock
from capsule_xero.progress import APPLY_STAGES, ThrottledReporter
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from pipelines.xero import run_xero_extract, xero_error
from reverse_etl.apply.loop import apply_plan
from reverse_etl.apply.result import ApplyResult
from reverse_etl.plans.create import INTERRUPTED, create_plan
from reverse_etl.plans.model import Plan, StalePlanError
from reverse_etl.plans.render_markdown import counts_markdown, operations_markdown, waits_because
from reverse_etl.plans.store import load_plan

WRITTEN = ("created", "updated", "archived", "restored", "failed", "queued")


class WriteConfig(dg.Config):
    """Whether this run writes to Xero."""

    apply: Optional[bool] = Field(  # noqa: UP045 - Dagster's config schema needs Optional
        default=None,
        description="true: write an approved plan; false: store and show the plan only; "
        "unset: as CAPSULE_XERO_APPLY says when the run starts.",
    )
    finish_interrupted_plan: Optional[int] = Field(  # noqa: UP045 - Dagster's config schema needs Optional
        default=None,
        description="A plan number: plan nothing and write only that plan, while its apply is interrupted "
        "(Xero's daily limit), with the approval it had.",
    )


def why_not_written(plan: Plan, apply: bool) -> str | None:
    if plan.status == "empty":
        return "nothing to write"
    if plan.waits_for_approval:
        return f"waits for approval: capsule-xero approve {plan.plan_id}"
    if not apply:
        return "dry run: set apply: true in the run config to write"
    return None


def plan_metadata(plan: Plan) -> dict[str, Any]:
    """The plan's number, hash, status and counts; why it waits, in words."""
    waits = waits_because(plan)
    return {
        "plan": plan.plan_id,
        # The hash the approval job asks for beside the number (assets/approval.py).
        "plan_hash": plan.content_hash or "",
        "plan_status": plan.status,
        **({"waits_because": waits} if waits else {}),
        "finishes_interrupted_plan": plan.resumes,
        "operations": plan.operations,
        "write_backs": plan.write_backs,
        **{f"planned_{op}": plan.counts.get(op, 0) for op in ("create", "update", "archive", "restore")},
        "plan_counts": dg.MetadataValue.md(counts_markdown(plan)),
    }


def plan_table_metadata(con: duckdb.DuckDBPyConnection, plan: Plan) -> dict[str, Any]:
    """The plan as people read it in the UI: the first operations, field by field, before → after."""
    return {"plan_operations": dg.MetadataValue.md(operations_markdown(con, plan))}


def _progress_log(context: dg.AssetExecutionContext) -> ThrottledReporter:
    return ThrottledReporter(context.log.info, names=APPLY_STAGES)


def written_metadata(result: ApplyResult, progress: ThrottledReporter | None = None) -> dict[str, Any]:
    counts = result.counts()
    return {
        **(progress.metadata() if progress is not None else {}),
        "written": True,
        "plan_status": result.status,
        **{name: counts[name] for name in WRITTEN},
        "refused": counts["refused"],
        "write_calls": counts["write_calls"],
        "problems": dg.MetadataValue.json(result.problems[:20]),
    }


def _finish(
    context: dg.AssetExecutionContext,
    duckdb: DuckDBResource,
    settings: Settings,
    rules: Rules,
    plan_id: int,
) -> dg.MaterializeResult:
    """``capsule-xero apply N`` in a run: while plan ``plan_id``'s apply is interrupted, read Xero (the
    plan is checked against today's) and write that plan; nothing else, and no new plan."""
    with duckdb.get_connection() as con:
        plan = load_plan(con, plan_id)
    if plan is None or plan.status not in INTERRUPTED:
        why_not = f"plan {plan_id} is {plan.status if plan else 'missing'}: nothing to finish"
        return dg.MaterializeResult(metadata={"plan": plan_id, "written": False, "why_not": why_not})
    with home_lock(settings.home, dagster_step(context), wait=DAGSTER_WAIT_SECONDS):
        try:
            run_xero_extract(settings, rules=rules)
        except Exception as exc:
            raise (xero_error(exc) or exc) from None
    progress = _progress_log(context)
    with duckdb.get_connection() as con:
        try:
            result = apply_plan(con, settings, rules, plan_id, on_progress=progress)
        except StalePlanError as exc:
            why_not = f"plan {plan_id} no longer fits Xero, so the next sync plans what it left: {exc}"
            context.log.warning(why_not)
            return dg.MaterializeResult(metadata={"plan": plan_id, "written": False, "why_not": why_not})
    if result.stopped:
        context.log.warning(f"Plan {plan_id} stopped early: {result.stopped}")
    return dg.MaterializeResult(metadata={**plan_metadata(plan), **written_metadata(result, progress)})


@dg.asset(
    key=["reverse_etl", "xero_contacts_written"],
    deps=[
        asset_key(table)
        for table in ("reconcile.contact_operations", "reconcile.history_notes", "reports.views")
    ],
    group_name="reverse_etl",
    pool=DUCKDB_POOL,
    kinds={"duckdb", "xero"},
)
def xero_contacts_written(
    context: dg.AssetExecutionContext, config: WriteConfig, duckdb: DuckDBResource, rules: RulesResource
) -> dg.MaterializeResult:
    """Stores the numbered plan and, when configured to apply and the plan is approved, writes it to Xero.
    See docs/architecture.md#plans-and-approval."""
    settings = settings_for_run(context.run)
    apply = settings.apply_writes if config.apply is None else config.apply
    loaded = rules.load()
    if config.finish_interrupted_plan is not None:
        return with_error_queue(
            duckdb, _finish(context, duckdb, settings, loaded, config.finish_interrupted_plan)
        )
    with duckdb.get_connection() as con:
        plan = create_plan(con, loaded)
        why_not = why_not_written(plan, apply)
        shown = plan_table_metadata(con, plan)
        if why_not is not None:
            context.log.info(f"Plan {plan.plan_id}: {why_not}.")
            return dg.MaterializeResult(
                metadata={
                    **plan_metadata(plan),
                    **shown,
                    "written": False,
                    "why_not": why_not,
                    **error_queue_metadata(con),
                }
            )
        progress = _progress_log(context)
        result = apply_plan(con, settings, loaded, plan.plan_id, on_progress=progress)
    if result.stopped:
        context.log.warning(f"Plan {plan.plan_id} stopped early: {result.stopped}")
    return with_error_queue(
        duckdb,
        dg.MaterializeResult(metadata={**plan_metadata(plan), **shown, **written_metadata(result, progress)}),
    )

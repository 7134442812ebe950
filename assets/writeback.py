"""The reverse-ETL asset: plan the diff and, once configured to, apply it to Xero exactly once.

A dry run by default: the plan is stored and shown, nothing is written until ``CAPSULE_XERO_APPLY``
is true or the run config says ``apply: true`` (Launchpad, or a schedule's config). Plans over the
rules file's approval limits wait for ``capsule-xero approve PLAN`` whatever the config says. A plan
whose apply was interrupted (a run killed, Xero's daily limit) stands while it still fits Xero, so
this asset finishes it with the approval it had before anything newer is planned
(reverse_etl/plans.py).
"""

from typing import Any, Optional

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets.resources import DUCKDB_POOL, RulesResource
from assets.stages import asset_key
from assets.tenancy import settings_for_run
from reverse_etl.apply.loop import apply_plan
from reverse_etl.apply.result import ApplyResult
from reverse_etl.plans.create import create_plan
from reverse_etl.plans.model import Plan

WRITTEN = ("created", "updated", "archived", "restored", "failed", "queued")


class WriteConfig(dg.Config):
    """Whether this run writes to Xero."""

    apply: Optional[bool] = Field(  # noqa: UP045 - Dagster's config schema needs Optional
        default=None,
        description="true: write an approved plan; false: store and show the plan only; "
        "unset: as CAPSULE_XERO_APPLY says when the run starts.",
    )


def _why_not_written(plan: Plan, apply: bool) -> str | None:
    if plan.status == "empty":
        return "nothing to write"
    if plan.waits_for_approval:
        return f"waits for approval: capsule-xero approve {plan.plan_id}"
    if not apply:
        return "dry run: set apply: true in the run config to write"
    return None


def _plan_metadata(plan: Plan) -> dict[str, Any]:
    return {
        "plan": plan.plan_id,
        "plan_status": plan.status,
        "finishes_interrupted_plan": plan.resumes,
        "operations": plan.operations,
        "write_backs": plan.write_backs,
        **{f"planned_{op}": plan.counts.get(op, 0) for op in ("create", "update", "archive", "restore")},
    }


def _written_metadata(result: ApplyResult) -> dict[str, Any]:
    counts = result.counts()
    return {
        "written": True,
        "plan_status": result.status,
        **{name: counts[name] for name in WRITTEN},
        "refused": counts["refused"],
        "write_calls": counts["write_calls"],
        "problems": dg.MetadataValue.json(result.problems[:20]),
    }


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
    """Stores the numbered plan and, when configured to apply and the plan is approved, writes it to Xero."""
    settings = settings_for_run(context.run)
    apply = settings.apply_writes if config.apply is None else config.apply
    loaded = rules.load()
    with duckdb.get_connection() as con:
        plan = create_plan(con, loaded)
        why_not = _why_not_written(plan, apply)
        if why_not is not None:
            context.log.info(f"Plan {plan.plan_id}: {why_not}.")
            return dg.MaterializeResult(
                metadata={**_plan_metadata(plan), "written": False, "why_not": why_not}
            )
        result = apply_plan(con, settings, loaded, plan.plan_id)
    if result.stopped:
        context.log.warning(f"Plan {plan.plan_id} stopped early: {result.stopped}")
    return dg.MaterializeResult(metadata={**_plan_metadata(plan), **_written_metadata(result)})

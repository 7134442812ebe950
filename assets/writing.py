"""The reverse-ETL asset: plan the diff and, once configured to, apply it to Xero exactly once.

A dry run by default: the plan is stored and shown, nothing is written until the run config says
``apply: true`` (Launchpad, or a schedule's config). Plans over the rules file's approval limits
wait for ``capsule-xero approve PLAN`` whatever the config says. A plan whose apply was interrupted
(a run killed, Xero's daily limit) stands while it still fits Xero, so this asset finishes it with
the approval it had before anything newer is planned (reverse_etl/plans.py).
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.extract import DUCKDB_POOL
from assets.reconciling import contact_operations, history_notes, report_views
from assets.resources import RulesResource
from capsule_xero.settings import Settings
from reverse_etl.apply.loop import apply_plan
from reverse_etl.plans.create import create_plan


class WriteConfig(dg.Config):
    """Whether this run writes to Xero (false: store and show the plan only)."""

    apply: bool = False


@dg.asset(
    key=["reverse_etl", "xero_contacts_written"],
    deps=[contact_operations, history_notes, report_views],
    group_name="reverse_etl",
    pool=DUCKDB_POOL,
    kinds={"duckdb", "xero"},
)
def xero_contacts_written(
    context: dg.AssetExecutionContext, config: WriteConfig, duckdb: DuckDBResource, rules: RulesResource
) -> dg.MaterializeResult:
    """Stores the numbered plan and, when configured to apply and the plan is approved, writes it to Xero."""
    loaded = rules.load()
    with duckdb.get_connection() as con:
        plan = create_plan(con, loaded)
        metadata: dict[str, object] = {
            "plan": plan.plan_id,
            "plan_status": plan.status,
            "finishes_interrupted_plan": plan.resumes,
            "operations": plan.operations,
            "write_backs": plan.write_backs,
            **{f"planned_{op}": plan.counts.get(op, 0) for op in ("create", "update", "archive", "restore")},
        }
        if plan.status == "empty" or not config.apply or plan.waits_for_approval:
            reason = (
                "nothing to write"
                if plan.status == "empty"
                else f"waits for approval: capsule-xero approve {plan.plan_id}"
                if plan.waits_for_approval
                else "dry run: set apply: true in the run config to write"
            )
            context.log.info(f"Plan {plan.plan_id}: {reason}.")
            return dg.MaterializeResult(metadata={**metadata, "written": False, "why_not": reason})
        result = apply_plan(con, Settings.from_env(), loaded, plan.plan_id)
    counts = result.counts()
    if result.stopped:
        context.log.warning(f"Plan {plan.plan_id} stopped early: {result.stopped}")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "written": True,
            "plan_status": result.status,
            **{
                name: counts[name]
                for name in ("created", "updated", "archived", "restored", "failed", "queued")
            },
            "refused": counts["refused"],
            "write_calls": counts["write_calls"],
            "problems": dg.MetadataValue.json(result.problems[:20]),
        }
    )

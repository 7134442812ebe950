"""How each stage of transform/stages.py becomes a Dagster asset, so Dagster and the CLI build alike.

``@stage_asset("reconcile.contact_matches")`` makes the asset ``reconcile/contact_matches``: its
upstream assets are the stage's ``after``, its step runs the stage's own plain function (the one
``capsule-xero sync`` runs), and the decorated function only turns what was built into the
materialisation's metadata; its docstring is the asset's description in the UI.
"""

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from assets.resources import DUCKDB_POOL, RulesResource
from transform.stages import STAGE_BY_NAME, sql_params

Describe = Callable[..., dict[str, Any]]


def asset_key(table: str) -> dg.AssetKey:
    """The asset that builds ``table``: ``raw.capsule_parties`` is the ingest asset ``capsule/parties``,
    ``staging.quarantine`` the stage asset ``staging/quarantine``."""
    schema, name = table.split(".", 1)
    if schema == "raw":
        system, _, raw_table = name.partition("_")
        return dg.AssetKey([system, raw_table])
    return dg.AssetKey([schema, name])


def stage_asset(
    name: str, *, kinds: Iterable[str] = ("duckdb", "sql"), per_tenant: bool = False
) -> Callable[[Describe], dg.AssetsDefinition]:
    """The asset that runs stage ``name``; the decorated ``describe(con, rows)`` returns its metadata
    (``describe(con, rows, tenant)`` with ``per_tenant``: the run's client, ``None`` without tenants)."""
    stage = STAGE_BY_NAME[name]

    def decorate(describe: Describe) -> dg.AssetsDefinition:
        @dg.asset(
            key=asset_key(stage.name),
            deps=[asset_key(table) for table in stage.after],
            group_name=stage.name.split(".")[0],
            pool=DUCKDB_POOL,
            kinds=set(kinds),
            description=inspect.cleandoc(describe.__doc__ or ""),
        )
        def run_stage(
            context: dg.AssetExecutionContext, duckdb: DuckDBResource, rules: RulesResource
        ) -> dg.MaterializeResult:
            loaded = rules.load()
            tenant = context.partition_key if context.has_partition_key else None
            with duckdb.get_connection() as con:
                rows = stage.build(con, loaded, sql_params(loaded))
                metadata = describe(con, rows, tenant) if per_tenant else describe(con, rows)
            return dg.MaterializeResult(metadata=metadata)

        return run_stage

    return decorate


def counts(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    """``select key, count ...`` as a dict (metadata of outcomes, rules, operations)."""
    return {str(key): int(value) for key, value in con.sql(sql).fetchall()}


def counts_table(counts: dict[str, int], heading: str) -> dg.MetadataValue:
    """Counts as a Markdown table in the UI."""
    lines = [f"| {heading} | rows |", "|---|---:|", *(f"| {k} | {v:,} |" for k, v in sorted(counts.items()))]
    return dg.MetadataValue.md("\n".join(lines))

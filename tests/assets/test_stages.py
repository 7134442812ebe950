"""The Dagster assets are the stages of transform/stages.py, and build exactly what the CLI builds."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from assets.checks import CHECKS
from assets.definitions import defs
from assets.reconcile import RECONCILE_ASSETS
from assets.resources import HomeDuckDBResource, RulesResource
from assets.stages import asset_key
from assets.staging import STAGING_ASSETS
from capsule_xero.rules.model import Rules
from sandbox.generator import Dataset
from transform import stages
from transform.reports import MONEY_TABLES, REPORTS, base_tables
from transform.stages import STAGES, reconcile

SCHEMAS = ("staging", "reconcile", "reports")


def test_each_stage_is_one_asset_drawn_after_the_steps_the_stage_names() -> None:
    graph = {key: assets_def for assets_def in defs().assets or [] for key in assets_def.keys}
    stage_assets = {a.key for a in [*STAGING_ASSETS, *RECONCILE_ASSETS]}
    assert stage_assets == {asset_key(stage.name) for stage in STAGES}
    for stage in STAGES:
        key = asset_key(stage.name)
        upstream = set(graph[key].asset_deps[key])
        assert upstream == {asset_key(table) for table in stage.after}
        assert upstream <= set(graph), f"{stage.name} waits for an asset the location does not have"


def _copy(con: Any, folder: Path) -> Path:
    con.execute("checkpoint")
    (path,) = con.sql(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0]
    folder.mkdir()
    copy = folder / "capsule_xero.duckdb"
    shutil.copyfile(path, copy)
    return copy


def _tables(path: Path) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every table and view of the reconcile's schemas: (columns, rows sorted by every column)."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema in ('staging', 'reconcile', 'reports') order by all"
        ).fetchall()
        return {
            name: (con.table(name).columns, con.sql(f"select * from {name} order by all").fetchall())  # noqa: S608 - catalogue names
            for (name,) in names
        }


def test_the_cli_path_and_the_dagster_path_build_identical_tables_from_the_same_data(
    world: tuple[Dataset, Any, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, con, _ = world
    cli_file, dagster_file = _copy(con, tmp_path / "cli"), _copy(con, tmp_path / "dagster")
    # Both paths take "now" from the clock a few seconds apart: a History cut-off years back keeps
    # the world's activity in the notes compared, and no item near the cut-off.
    monkeypatch.setattr(stages, "HISTORY_LOOKBACK", timedelta(days=3650))

    with duckdb.connect(str(cli_file)) as cli:
        reconcile(cli, Rules())  # what `capsule-xero sync` runs
    result = dg.materialize(
        [*STAGING_ASSETS, *RECONCILE_ASSETS, *CHECKS],
        resources={"duckdb": HomeDuckDBResource(database=str(dagster_file)), "rules": RulesResource()},
    )
    assert result.success

    by_cli, by_dagster = _tables(cli_file), _tables(dagster_file)
    assert set(by_cli) == set(by_dagster)
    # With money off (the default rules), the money reports wait for tables money.read would load.
    money_reports = {f"reports.{name}" for name in REPORTS if set(base_tables(name)) & set(MONEY_TABLES)}
    assert money_reports
    assert {table for stage in STAGES for table in stage.tables} - money_reports <= set(by_cli)
    assert by_cli["reconcile.history_notes"][1] and by_cli["reconcile.contact_operations"][1]
    for name, (columns, rows) in by_cli.items():
        assert by_dagster[name][0] == columns, name
        assert by_dagster[name][1] == rows, f"{name}: the two paths built different rows"

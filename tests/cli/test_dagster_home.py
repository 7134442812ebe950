"""Dagster's instance lives under CAPSULE_XERO_HOME with telemetry off and one DuckDB writer at a time."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cli.ui import prepare_dagster_home


def test_the_dagster_instance_under_the_home_has_telemetry_off_and_a_pool_limit_of_one(
    tmp_path: Path,
) -> None:
    folder = prepare_dagster_home(tmp_path / "home")
    assert folder == (tmp_path / "home" / "dagster").resolve()
    instance = dg.DagsterInstance.from_config(str(folder))
    assert instance.telemetry_enabled is False
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_preparing_twice_keeps_the_instance_folder(tmp_path: Path) -> None:
    folder = prepare_dagster_home(tmp_path)
    (folder / "history").mkdir()
    assert prepare_dagster_home(tmp_path) == folder
    assert (folder / "history").is_dir()

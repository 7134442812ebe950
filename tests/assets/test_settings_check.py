"""With a wrong setting the Dagster code location still loads, and its UI says what is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Loads the code location as `dagster dev` does (a fresh process reading the environment), then
# reports what the UI would show: the sensors and schedules, the settings sensor's tick, and a run.
PROBE = r"""
import json, sys
import dagster as dg
import assets.definitions

defs = assets.definitions.defs()  # what loading the code location calls
dg.Definitions.validate_loadable(defs)
repo = defs.get_repository_def()
sensors = {s.name: s for s in repo.sensor_defs}
out = {"sensors": sorted(sensors), "schedules": sorted(s.name for s in repo.schedule_defs)}
if "capsule_xero_settings" in sensors:
    tick = sensors["capsule_xero_settings"].evaluate_tick(dg.build_sensor_context())
    out["skip"] = tick.skip_message
    out["metadata"] = str(defs.metadata)
    result = defs.get_job_def("incremental_sync_job").execute_in_process(raise_on_error=False)
    failure = next(e for e in result.all_events if e.is_step_failure)
    out["run_failed"] = not result.success
    out["failed_step"] = failure.step_key
    error, messages = failure.step_failure_data.error, []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    out["failure"] = "\n".join(messages)
else:
    # One step that writes the DuckDB file (the report views): the first file in the home.
    views = defs.resolve_assets_def(dg.AssetKey(["reports", "views"]))
    out["step_succeeded"] = dg.materialize([views]).success  # with the location's own resources
print(json.dumps(out))
"""


def load(tmp_path: Path, **env: str) -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"CAPSULE_POLL_SECONDS", "XERO_FULL_READ_DAYS", "XERO_DAILY_RESERVE", "CAPSULE_XERO_CONFIG"}
    }
    environment |= {"CAPSULE_XERO_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir(exist_ok=True)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=environment | env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    return json.loads(probe.stdout.strip().splitlines()[-1])


def test_a_wrong_setting_loads_one_sensor_that_names_it_and_runs_fail_before_any_read(tmp_path: Path) -> None:
    shown = load(tmp_path, CAPSULE_POLL_SECONDS="abc", XERO_FULL_READ_DAYS="-3")
    assert shown["sensors"] == ["capsule_xero_settings"] and shown["schedules"] == []
    lines = [
        "CAPSULE_POLL_SECONDS='abc' is not a whole number of seconds from 1 to 86,400",
        "XERO_FULL_READ_DAYS='-3' is not a number of days from 0 (only on demand) to 365",
    ]
    assert shown["skip"].startswith("capsule-xero does not run until these settings are fixed")
    assert all(f"- {line}" in shown["skip"] for line in lines)
    assert all(line in shown["metadata"] for line in lines)
    assert shown["run_failed"] and shown["failed_step"] == "capsule_extract"
    assert all(line in shown["failure"] for line in lines)
    assert not (tmp_path / "home" / "capsule_xero.duckdb").exists()


def test_with_right_settings_the_real_sensors_and_schedules_load_and_the_home_is_private(
    tmp_path: Path,
) -> None:
    shown = load(tmp_path)
    assert "capsule_changes_sensor" in shown["sensors"] and "capsule_xero_settings" not in shown["sensors"]
    assert shown["schedules"] == ["nightly_reconciliation_schedule"]
    assert shown["step_succeeded"]
    assert (tmp_path / "home").stat().st_mode & 0o777 == 0o700

"""``capsule-xero ui``: the Dagster UI on this project, with Dagster's instance folder under
CAPSULE_XERO_HOME and the settings capsule-xero relies on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from assets.tenancy import TENANT_TAG
from capsule_xero.settings import Settings
from capsule_xero.tenants import read_tenants
from cli.deploy import DUCKDB_FILE_TAG
from cli.shared import console

# Every step that writes the DuckDB file runs in the "duckdb" pool; DuckDB allows one writing
# process per file (docs/architecture.md#the-duckdb-file), so the pool's limit is 1.
DAGSTER_YAML: dict[str, Any] = {
    "telemetry": {"enabled": False},
    "concurrency": {"pools": {"default_limit": 1}},
    # Run retries on, none by default: the jobs say how many (assets/jobs.py, dagster/max_retries).
    "run_retries": {"enabled": True},
    # Runs a sensor asks for wait in Dagster's queue until the coordinator looks (default every 5 s):
    # a near-real-time sync should not idle there.
    "run_coordinator": {
        "module": "dagster.core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {"dequeue_interval_seconds": 1},
    },
}
# With tenants, one DuckDB file per client: the queue admits one run per client (per file), as a
# production deployment's does (cli/deploy.py), so the "duckdb" pool holds as many steps as runs and
# different clients' runs proceed side by side.
TENANTS_MAX_CONCURRENT_RUNS = 4
TENANT_RUN_LIMITS = [
    {"key": TENANT_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
    {"key": DUCKDB_FILE_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
]


def dagster_yaml(several_tenants: bool = False) -> dict[str, Any]:
    """The instance settings of `capsule-xero ui`: one DuckDB writer at a time, per file."""
    if not several_tenants:
        return DAGSTER_YAML
    single = {
        key: value for key, value in DAGSTER_YAML.items() if key not in {"concurrency", "run_coordinator"}
    }
    return {
        **single,
        # Dagster takes run limits from `concurrency: runs:` only with the queue set by `run_queue:`.
        "run_queue": {
            "dequeue_interval_seconds": DAGSTER_YAML["run_coordinator"]["config"]["dequeue_interval_seconds"]
        },
        "concurrency": {
            "runs": {
                "max_concurrent_runs": TENANTS_MAX_CONCURRENT_RUNS,
                "tag_concurrency_limits": TENANT_RUN_LIMITS,
            },
            "pools": {"default_limit": TENANTS_MAX_CONCURRENT_RUNS},
        },
    }


def ui_command(
    port: int = typer.Option(3000, help="Port of the Dagster UI (on 127.0.0.1)."),
) -> None:
    """Open the Dagster UI on this project (DAGSTER_HOME under CAPSULE_XERO_HOME)."""
    settings = Settings.from_env()
    several_tenants = read_tenants(os.environ) is not None
    env = {**os.environ, "DAGSTER_HOME": str(prepare_dagster_home(settings.home, several_tenants))}
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    dagster = Path(sys.executable).parent / "dagster"
    console.print(f"Dagster UI on http://127.0.0.1:{port} (DAGSTER_HOME={env['DAGSTER_HOME']})")
    command = [str(dagster), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
    raise typer.Exit(subprocess.call(command, env=env, cwd=workspace.parent))  # noqa: S603 - our own dagster


def prepare_dagster_home(home: Path, several_tenants: bool = False) -> Path:
    """Create ``<home>/dagster`` with its dagster.yaml (rewritten if ours changed); return the folder.

    The folder is readable by its owner only: Dagster's storage keeps every run's event log, which
    carries customer names and values. One an earlier version made 0755 is closed.
    """
    import yaml  # imported here: ~0.1 s that `capsule-xero --help` does without

    folder = (Path(home) / "dagster").resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    config = folder / "dagster.yaml"
    text = yaml.safe_dump(dagster_yaml(several_tenants), sort_keys=True)
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    return folder

"""``capsule-xero ui``: the Dagster UI on this project, with Dagster's instance folder under
CAPSULE_XERO_HOME and the settings capsule-xero relies on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from capsule_xero.settings import Settings
from cli.shared import console

# Every step that writes the DuckDB file runs in the "duckdb" pool; DuckDB allows one writing
# process per file (docs/architecture.md#the-duckdb-file), so the pool's limit is 1.
DAGSTER_YAML = {
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


def ui_command(
    port: int = typer.Option(3000, help="Port of the Dagster UI (on 127.0.0.1)."),
) -> None:
    """Open the Dagster UI on this project (DAGSTER_HOME under CAPSULE_XERO_HOME)."""
    settings = Settings.from_env()
    env = {**os.environ, "DAGSTER_HOME": str(prepare_dagster_home(settings.home))}
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    dagster = Path(sys.executable).parent / "dagster"
    console.print(f"Dagster UI on http://127.0.0.1:{port} (DAGSTER_HOME={env['DAGSTER_HOME']})")
    command = [str(dagster), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
    raise typer.Exit(subprocess.call(command, env=env, cwd=workspace.parent))  # noqa: S603 - our own dagster


def prepare_dagster_home(home: Path) -> Path:
    """Create ``<home>/dagster`` with its dagster.yaml (rewritten if ours changed); return the folder.

    The folder is readable by its owner only: Dagster's storage keeps every run's event log, which
    carries customer names and values. One an earlier version made 0755 is closed.
    """
    import yaml  # imported here: ~0.1 s that `capsule-xero --help` does without

    folder = (Path(home) / "dagster").resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    config = folder / "dagster.yaml"
    text = yaml.safe_dump(DAGSTER_YAML, sort_keys=True)
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    return folder

"""Dagster's instance folder under CAPSULE_XERO_HOME, with the settings capsule-xero relies on."""

from __future__ import annotations

from pathlib import Path

import yaml

# Every step that writes the DuckDB file runs in the "duckdb" pool; DuckDB allows one writing
# process per file (DESIGN.md, Limits), so the pool's limit is 1.
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


def prepare_dagster_home(home: Path) -> Path:
    """Create ``<home>/dagster`` with its dagster.yaml (rewritten if ours changed); return the folder.

    The folder is readable by its owner only: Dagster's storage keeps every run's event log, which
    carries customer names and values. One an earlier version made 0755 is closed.
    """
    folder = (Path(home) / "dagster").resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    config = folder / "dagster.yaml"
    text = yaml.safe_dump(DAGSTER_YAML, sort_keys=True)
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    return folder

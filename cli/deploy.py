"""``capsule-xero deploy``: a production Dagster instance folder — PostgreSQL storage, a run queue that
admits one run per tenant (one writer per DuckDB file), and the services that run it (docs/deploy.md).

``capsule-xero ui`` keeps its own folder (``$CAPSULE_XERO_HOME/dagster``, SQLite, one user); this
command writes elsewhere so neither overwrites the other."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from string import Template
from typing import Annotated, Any

import typer

from capsule_xero.display import markup_literal
from capsule_xero.settings import Settings
from capsule_xero.tenants import PARTITION_TAG, TENANT_TAG
from cli.shared import console

REPOSITORY = Path(__file__).resolve().parent.parent
TEMPLATES = REPOSITORY / "deploy"

# Runs tagged with the DuckDB file they write rather than a tenant (e.g. a single-organisation
# install's runs) are held to one per file the same way.
DUCKDB_FILE_TAG = "capsule_xero/duckdb_file"
# The run tags the queue limits. A tenant's runs all write its one DuckDB file, and DuckDB allows one
# writing process per file (docs/architecture.md#the-duckdb-file): one run per tenant at a time. The
# jobs tag every run with its tenant (assets/tenancy.py); a run started with the asset graph's
# Materialize button carries only Dagster's own partition tag, and the partitions are the tenants,
# so that tag is limited the same way.
ONE_RUN_PER_TENANT = [
    {"key": tag, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    for tag in (TENANT_TAG, PARTITION_TAG, DUCKDB_FILE_TAG)
]

# Dagster reads each value from the environment when it starts (its `env:` form), so the password
# is never written in dagster.yaml (docs.dagster.io, "dagster.yaml reference", PostgreSQL storage).
POSTGRES_ENVIRONMENT = {
    "hostname": "DAGSTER_PG_HOST",
    "port": "DAGSTER_PG_PORT",
    "db_name": "DAGSTER_PG_DB",
    "username": "DAGSTER_PG_USERNAME",
    "password": "DAGSTER_PG_PASSWORD",
}

# dagster-postgres drives psycopg2 (its only driver dependency), but its default `postgresql://` URL
# means psycopg 3 to SQLAlchemy 2.1 (the locked version), which is not installed: name the driver.
POSTGRES_DRIVER = "postgresql+psycopg2"

SERVICES = (
    "capsule-xero-dagster-daemon.service",
    "capsule-xero-dagster-webserver.service",
    "capsule-xero-webhooks.service",
)


def production_dagster_yaml(max_concurrent_runs: int) -> dict[str, Any]:
    """The instance settings of a production deployment: PostgreSQL, the run queue and its limits."""
    return {
        "telemetry": {"enabled": False},
        # One `storage: postgres` block gives runs, event logs and schedules all in PostgreSQL
        # (DagsterPostgresStorage), so the webserver, the daemon and every run share one database.
        "storage": {
            "postgres": {
                "postgres_db": {
                    **{key: {"env": name} for key, name in POSTGRES_ENVIRONMENT.items()},
                    "scheme": POSTGRES_DRIVER,
                }
            }
        },
        # The queued run coordinator (Dagster's default) checks its queue every second: a sensor's run
        # should not idle there (the same as `capsule-xero ui`).
        "run_queue": {"dequeue_interval_seconds": 1},
        "concurrency": {
            "runs": {
                "max_concurrent_runs": max_concurrent_runs,
                "tag_concurrency_limits": ONE_RUN_PER_TENANT,
            },
            # Steps run in the "duckdb" pool (assets/resources.py). `capsule-xero ui` limits it to 1:
            # one file. Here the tag limits above keep one run per file, so the pool holds as many steps
            # as there are runs and different tenants' runs proceed side by side; steps of one run still
            # take turns on their file through its lock (capsule_xero/home_lock.py).
            "pools": {"default_limit": max_concurrent_runs},
        },
        # Run retries on, none by default: the jobs say how many (assets/jobs.py, dagster/max_retries).
        "run_retries": {"enabled": True},
    }


def workspace_yaml() -> dict[str, Any]:
    """The one code location, by absolute path, so the services may start from any folder."""
    return {
        "load_from": [
            {"python_module": {"module_name": "assets.definitions", "working_directory": str(REPOSITORY)}},
        ]
    }


def write_deployment(
    out: Path, home: Path, max_concurrent_runs: int, webserver_port: int = 3000, user: str | None = None
) -> list[Path]:
    """Write the instance folder and the services' files into ``out``; return the files written."""
    import yaml  # imported here: ~0.1 s that `capsule-xero --help` does without

    out = out.resolve()
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.chmod(0o700)  # Dagster's event log carries customer names; this folder's logs too
    values = {
        "user": user or getpass.getuser(),
        "repository": str(REPOSITORY),
        "venv": str(Path(sys.executable).parent.parent),
        "dagster_home": str(out),
        "environment_file": str(out / "environment"),
        "home": str(Path(home).resolve()),
        "webserver_port": str(webserver_port),
    }
    written = {
        out / "dagster.yaml": yaml.safe_dump(production_dagster_yaml(max_concurrent_runs), sort_keys=False),
        out / "workspace.yaml": yaml.safe_dump(workspace_yaml(), sort_keys=False),
        out / "environment.example": Template((TEMPLATES / "environment.example").read_text()).substitute(
            values
        ),
    }
    for service in SERVICES:
        text = (TEMPLATES / "systemd" / service).read_text()
        written[out / "systemd" / service] = Template(text).substitute(values)
    for path, text in written.items():
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_text(text)
    return list(written)


def deploy_command(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder to write (default: $CAPSULE_XERO_HOME/deploy). It becomes DAGSTER_HOME."
        ),
    ] = None,
    max_concurrent_runs: int = typer.Option(
        4,
        "--max-concurrent-runs",
        min=1,
        help="Runs in progress at once across all tenants (one per tenant).",
    ),
    webserver_port: int = typer.Option(3000, "--port", help="Port of the Dagster UI (on 127.0.0.1)."),
) -> None:
    """Write a production Dagster instance: PostgreSQL storage, the run queue, systemd services."""
    settings = Settings.from_env()
    folder = out if out is not None else Path(settings.home) / "deploy"
    if folder.resolve() == (Path(settings.home) / "dagster").resolve():
        console.print(
            f"[red]{markup_literal(str(folder))} is the instance of `capsule-xero ui`,[/red] which rewrites its"
            " dagster.yaml: give deploy another folder with --out (default $CAPSULE_XERO_HOME/deploy).",
            highlight=False,
        )
        raise typer.Exit(2)
    written = write_deployment(folder, settings.home, max_concurrent_runs, webserver_port)
    console.print(
        f"Wrote a production Dagster instance in {markup_literal(str(folder.resolve()))}:", highlight=False
    )
    for path in written:
        console.print(f"  {markup_literal(str(path))}", highlight=False)
    console.print(
        "Next: fill in environment.example as environment (chmod 600), then install the systemd units;"
        " docs/deploy.md says each step.",
        highlight=False,
    )

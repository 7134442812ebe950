"""Dagster resources of capsule-xero beyond dlt: the DuckDB file under the home's lock, and the rules file.

Both read their settings when a step uses them, never when the code location loads, so a wrong
setting or a broken rules file fails that step with its line while the location still loads.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from assets.tenancy import settings_for_run
from capsule_xero.home_lock import home_lock
from capsule_xero.rules.loading import load_rules
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings

# Every step that reads or writes the DuckDB file runs in this pool, whose limit is 1 (the instance's
# dagster.yaml, cli/ui.py): DuckDB takes one writing process per file
# (docs/architecture.md#the-duckdb-file). With tenants, one file per client: the run queue's limit of
# one run per client keeps one writer per file, and the pool admits as many steps as runs.
DUCKDB_POOL = "duckdb"

# A Dagster step that finds a CLI sync holding the home waits for it this long before it fails
# saying who holds it (runs are queued work: waiting is better than an alert for a busy home).
DAGSTER_WAIT_SECONDS = 600.0


class RunSettings(dg.ConfigurableResource):
    """A resource whose settings are its run's: the client the run is for (assets/tenancy.py), read
    when a step uses it; outside a run (a test's direct call), the process environment's."""

    _run_tags: dict[str, str] | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.run
        self._run_tags = dict(run.tags) if run is not None else None

    def settings(self) -> Settings:
        return settings_for_run(self._run_tags)


def dagster_step(context: dg.AssetExecutionContext) -> str:
    """How a Dagster step names itself in the home's lock file (``capsule-xero status`` shows it)."""
    return f"Dagster run {context.run.run_id[:8]} ({context.op_execution_context.op.name})"


class RulesResource(RunSettings):
    """The rules file (``capsule-xero.yaml``): read when an asset runs, so a broken file fails that run
    with the line and the problem, while the code location still loads."""

    config_file: Optional[str] = None  # noqa: UP045 - Dagster's config schema needs Optional

    def load(self) -> Rules:
        path = self.config_file or self.settings().config_file
        return load_rules(None if path is None else Path(path))


class HomeDuckDBResource(DuckDBResource, RunSettings):
    """``DuckDBResource`` whose connections hold CAPSULE_XERO_HOME's lock (capsule_xero/home_lock.py):
    a reconcile or writer step and a ``capsule-xero sync`` never write the file at once, and while a
    step writes, ``capsule-xero status`` knows a run holds it."""

    database: str = Field(
        default="",
        description="The DuckDB file; empty: capsule_xero.duckdb in CAPSULE_XERO_HOME, read when a step opens it.",
    )

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        path = Path(self.database) if self.database else self.settings().duckdb_path
        file = DuckDBResource(database=str(path), connection_config=self.connection_config)
        with (
            home_lock(path.parent, "Dagster run (reconcile or write step)", wait=DAGSTER_WAIT_SECONDS),
            file.get_connection() as connection,
        ):
            yield connection

"""Dagster resources of capsule-xero beyond dlt, and the DuckDB resource under the home's lock."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from capsule_xero.home_lock import home_lock
from capsule_xero.rules import Rules, load_rules
from capsule_xero.settings import Settings

# A Dagster step that finds a CLI sync holding the home waits for it this long before it fails
# saying who holds it (runs are queued work: waiting is better than an alert for a busy home).
DAGSTER_WAIT_SECONDS = 600.0


def dagster_step(context: dg.AssetExecutionContext) -> str:
    """How a Dagster step names itself in the home's lock file (``capsule-xero status`` shows it)."""
    return f"Dagster run {context.run.run_id[:8]} ({context.op_execution_context.op.name})"


class RulesResource(dg.ConfigurableResource):
    """The rules file (``capsule-xero.yaml``): read when an asset runs, so a broken file fails that run
    with the line and the problem, while the code location still loads."""

    config_file: Optional[str] = None  # noqa: UP045 - Dagster's config schema needs Optional

    def load(self) -> Rules:
        path = self.config_file or Settings.from_env().config_file
        return load_rules(None if path is None else Path(path))


class HomeDuckDBResource(DuckDBResource):
    """``DuckDBResource`` whose connections hold CAPSULE_XERO_HOME's lock (capsule_xero/home_lock.py):
    a reconcile or writer step and a ``capsule-xero sync`` never write the file at once, and while a
    step writes, ``capsule-xero status`` knows a run holds it."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        home = Path(self.database).parent
        with (
            home_lock(home, "Dagster run (reconcile or write step)", wait=DAGSTER_WAIT_SECONDS),
            super().get_connection() as connection,
        ):
            yield connection

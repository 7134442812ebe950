"""The one ordered list of stages (transform/stages.py): every stage reads only what is built before it."""

from __future__ import annotations

import re

from assets.ingest import MONEY_ASSETS
from transform import reports
from transform.rules_sql import SCOPE_SQL
from transform.sql import SQL_DIR
from transform.stages import STAGE_BY_NAME, STAGES, Stage

_TABLE_RE = re.compile(r"\b((?:raw|staging|reconcile|ledger|reports)\.[a-z_]+)\b")
# What the tables built in Python (not by a model of their own name) read.
PYTHON_BUILT_READS = {
    "reconcile.sync_scope": SCOPE_SQL,
    "staging.quarantine": "staging.capsule_parties",
    "reconcile.desired_contacts": "reconcile.mapped_contacts",
    "reconcile.planned_rejects": "reconcile.contact_operations",
}


def _tables_in(sql: str) -> set[str]:
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    # A dlt child table (raw.capsule_parties__tags) is loaded with its parent resource.
    return {table.split("__", 1)[0] for table in _TABLE_RE.findall(code)}


def reads(table: str) -> set[str]:
    """The tables ``table`` is built from, as its model (or the Python that builds it) names them."""
    schema, name = table.split(".", 1)
    if schema == "reports":
        return set(reports.base_tables(name))
    if table in PYTHON_BUILT_READS:
        return _tables_in(PYTHON_BUILT_READS[table]) - {table}
    return _tables_in((SQL_DIR / schema / f"{name}.sql").read_text()) - {table}


def test_every_stage_reads_only_tables_built_before_it_or_by_the_extract_and_the_ledger() -> None:
    built: set[str] = set()
    for stage in STAGES:
        for table in stage.tables:
            early = {read for read in reads(table) if not read.startswith(("raw.", "ledger."))}
            assert early <= built, f"{table} ({stage.name}) reads {sorted(early - built)} before it is built"
            built.add(table)


def test_a_stage_names_in_after_every_table_it_reads_that_another_step_builds() -> None:
    """``after`` is what Dagster draws and orders by: a table read but not named there (nor built by a
    stage named there, transitively) could be stale when a single asset is materialised."""

    def upstream(stage: Stage) -> set[str]:
        """Every table built before ``stage`` along its ``after``, transitively, and the raw ones named."""
        found: set[str] = set()
        for name in stage.after:
            earlier = STAGE_BY_NAME.get(name)
            found |= {name} if earlier is None else set(earlier.tables) | upstream(earlier)
        return found

    for stage in STAGES:
        own = set(stage.tables)
        for table in stage.tables:
            for read in reads(table) - own:
                if read.startswith("ledger."):
                    continue  # the reverse ETL's, never rebuilt by a stage
                if read.removeprefix("raw.") in MONEY_ASSETS:
                    # The money tables come from the same Xero extract step as the contacts.
                    read = "raw.xero_contacts"
                assert read in upstream(stage), f"{stage.name} reads {read} without it in its after"


def test_no_stage_is_drawn_after_a_money_table_so_money_off_skips_nothing() -> None:
    """Dagster skips an asset drawn after one a run skipped: with money off (the money assets are
    not materialised), a stage after them, and every stage and write after that, would never run."""
    for stage in STAGES:
        skippable = {name for name in stage.after if name.removeprefix("raw.") in MONEY_ASSETS}
        assert not skippable, f"{stage.name} is drawn after {sorted(skippable)}"


def test_the_stages_build_every_model_and_report_once() -> None:
    models = {f"{path.parent.name}.{path.stem}" for path in SQL_DIR.glob("*/*.sql")}
    # Not models: the money reports' check queries, and the preflight's form for unread settings.
    models -= {f"money_checks.{path.stem}" for path in SQL_DIR.glob("money_checks/*.sql")}
    models -= {"reconcile.billing_preflight_unread"}
    views = {f"reports.{name}" for name in reports.REPORTS}
    built = [table for stage in STAGES for table in stage.tables]
    assert len(built) == len(set(built))
    assert models | views <= set(built)

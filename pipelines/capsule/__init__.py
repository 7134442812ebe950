"""Capsule CRM -> DuckDB (dataset ``raw``, tables ``capsule_*``) with dlt.

Entry points: ``run_capsule_extract(settings, full_refresh=False) -> LoadInfo`` (CLI, Dagster op),
``extract_capsule`` (the same, plus row counts, API calls and schema drift), and for dagster-dlt
``capsule_source()`` + ``capsule_pipeline(settings)`` with ``before_load`` / ``after_load`` /
``capsule_error`` around ``pipeline.run`` (see ``extract_capsule`` for the order).

==========================  ===================================  ======================================
resource                    table                                how it is read
==========================  ===================================  ======================================
parties                     capsule_parties (+ __tags, __fields,  ``since`` = updatedAt cursor minus a
                            __addresses, __phone_numbers,        5-minute overlap; ``embed=tags,fields``
                            __email_addresses, __websites)
opportunities               capsule_opportunities (+ __tags,     same (``since`` + ``embed``)
                            __fields)
kases                       capsule_kases (+ __tags, __fields)   same
deleted_parties,            capsule_deleted_parties,             ``/…/deleted?since=``, deletedAt
deleted_opportunities,      capsule_deleted_opportunities,       cursor minus the overlap (``since`` is
deleted_kases               capsule_deleted_kases                required: the first run asks from 1970)
users                       capsule_users                        whole list: no ``since`` in the API
party_field_definitions     capsule_party_field_definitions      whole list: no ``since``
                            (+ __options)
tags                        capsule_tags                         whole list of party tags: no ``since``
tasks                       capsule_tasks                        whole list, ``status=open,completed,
                                                                 pending``: tasks have no ``since``
==========================  ===================================  ======================================

Every resource has ``primary_key="id"`` and ``write_disposition="merge"``, so the overlap re-reads
merge onto themselves. The four without ``since`` in the API carry no cursor and are read whole on
every run: users, definitions and tags are one page each, tasks ceil(tasks / 100) pages. A task
deleted in Capsule has no tombstone (docs/api-facts.md#capsule-incremental-reads-and-deletions): its row stays, with a ``_dlt_load_id`` older than the
newest one in capsule_tasks. Deleted and restricted records are rows of capsule_deleted_*
(``restricted`` true: the token's user can no longer see it; ``deleted_at`` null); their rows in
capsule_parties etc. are kept, for the archive step to join on.

Nested lists are child tables (``<table>__<list>``, ``_dlt_parent_id`` = the parent's ``_dlt_id``),
replaced with their parent on every merge: staging needs one row per e-mail, phone, tag and
custom-field value anyway. Custom-field values are text (``helpers.field_value_text``). Every table
above exists after the first run, empty if Capsule had nothing for it (``create_missing_tables``).
New or retyped fields are loaded (dlt schema evolution), logged and recorded in
``raw.capsule_schema_changes`` (``drift.py``).

Cursors live in the dlt state, which dlt also writes to DuckDB (``raw._dlt_pipeline_state``) and
restores from there when the working folder (``$CAPSULE_XERO_HOME/dlt``) is lost. A run that fails
(rate limit, outage, bad token) saves nothing; the next run starts from the last successful cursors.
The token is never a source argument, dlt config or state: ``Settings`` are read at the first request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.destinations.exceptions import DestinationConnectionError
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from capsule_xero.capsule.errors import (
    CapsuleError,
    CapsuleLoadFailed,
    CapsuleRateLimitReached,
    CapsuleRequestRejected,
    CapsuleUnavailable,
)
from capsule_xero.capsule.pacing import CapsulePacer, shared_pacer
from capsule_xero.duckdb_file import check_duckdb_file
from capsule_xero.home_lock import home_lock
from capsule_xero.progress import OpenEndedStage, Progress, StageMeter
from capsule_xero.settings import Settings
from pipelines import declared_tables, find_cause, prepare_dlt
from pipelines.capsule import drift
from pipelines.capsule.helpers import CapsuleConnection
from pipelines.capsule.resources import deleted_feed, incremental_records, parties_resource, whole_list
from pipelines.capsule.settings import (
    DATASET_NAME,
    DECLARED_CHILDREN,
    DECLARED_TABLES,
    DEFINITION_COLUMNS,
    DEFINITION_NESTED,
    KASE_COLUMNS,
    LOADER_FILE_FORMAT,
    NESTED_COLUMNS,
    OPPORTUNITY_COLUMNS,
    PER_PAGE,
    PIPELINE_NAME,
    REQUEST_TIMEOUT,
    SOURCE_NAME,
    TABLE_PREFIX,
    TABLES,
    TAG_COLUMNS,
    TASK_COLUMNS,
    TASK_STATUSES,
    USER_COLUMNS,
)
from pipelines.cursors import align_cursors, duckdb_path_of

__all__ = [
    "CapsuleError",
    "CapsuleExtract",
    "CapsuleLoadFailed",
    "CapsulePacer",
    "CapsuleRateLimitReached",
    "CapsuleRequestRejected",
    "CapsuleUnavailable",
    "after_load",
    "before_load",
    "capsule_error",
    "capsule_pages",
    "capsule_pipeline",
    "capsule_source",
    "create_missing_tables",
    "extract_capsule",
    "failure",
    "run_capsule_extract",
]

log = logging.getLogger(__name__)

RESUME_ADVICE = (
    "Nothing from this run was saved; the next run continues from the cursors of the last successful run."
)


# Resources with a cursor, and the table whose rows that cursor describes (pipelines/cursors.py).
CURSOR_TABLES: dict[str, str] = {
    name: TABLES[name]
    for name in (
        "parties",
        "opportunities",
        "kases",
        "deleted_parties",
        "deleted_opportunities",
        "deleted_kases",
    )
}


def create_missing_tables(pipeline: dlt.Pipeline) -> list[str]:
    """Create, empty, every declared table that has had no row yet (an account without kases, or
    where no kase has a tag), so SQL downstream can always select from it. Same columns and types
    as dlt creates them; when rows arrive, dlt finds the table and loads into it."""
    children = {
        table: {name: NESTED_COLUMNS[name] for name in names} for table, names in DECLARED_CHILDREN.items()
    }
    return declared_tables.create_missing_tables(pipeline, DECLARED_TABLES, children)


def capsule_source(
    settings: Settings | None = None,
    *,
    pacer: CapsulePacer | None = None,
    timeout: float | tuple[float, float] = REQUEST_TIMEOUT,
    per_page: int = PER_PAGE,
    on_page: Callable[[], None] | None = None,
) -> DltSource:
    """The Capsule dlt source. ``settings`` default to ``Settings.from_env()`` at the first request;
    ``pacer`` defaults to the process-wide one for that Capsule user (``pacing.shared_pacer``);
    ``timeout`` is (connect, read) seconds per request; ``per_page`` is Capsule's ``perPage``;
    ``on_page`` is called after each page read (progress)."""
    conn = CapsuleConnection(settings, pacer, timeout, per_page, on_page)

    @dlt.source(name=SOURCE_NAME)
    def capsule() -> list[Any]:
        return [
            whole_list(conn, "users", "/users", "users", USER_COLUMNS),
            whole_list(
                conn,
                "party_field_definitions",
                "/parties/fields/definitions",
                "definitions",
                DEFINITION_COLUMNS,
                DEFINITION_NESTED,
            ),
            whole_list(conn, "tags", "/parties/tags", "tags", TAG_COLUMNS),
            parties_resource(conn),
            incremental_records(conn, "opportunities", OPPORTUNITY_COLUMNS),
            incremental_records(conn, "kases", KASE_COLUMNS),
            whole_list(conn, "tasks", "/tasks", "tasks", TASK_COLUMNS, status=TASK_STATUSES),
            deleted_feed(conn, "parties", "restrictedParties"),
            deleted_feed(conn, "opportunities", "restrictedOpportunities"),
            deleted_feed(conn, "kases", "restrictedKases"),
        ]

    return capsule()


def capsule_pipeline(settings: Settings) -> dlt.Pipeline:
    """The dlt pipeline: working folder ``$CAPSULE_XERO_HOME/dlt``, DuckDB file, dataset ``raw``."""
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(prepare_dlt(settings.home, PIPELINE_NAME)),
        destination=dlt.destinations.duckdb(str(settings.duckdb_path)),
        dataset_name=DATASET_NAME,
    )


@dataclass
class CapsuleExtract:
    """What one extract did: dlt's LoadInfo plus what a person wants to see afterwards."""

    load_info: LoadInfo
    row_counts: dict[str, int]
    calls: int
    retries: int
    schema_changes: list[drift.SchemaChange] = field(default_factory=list)


def capsule_error(exc: BaseException) -> CapsuleError | None:
    """The CapsuleError inside what dlt raised (PipelineStepFailed -> ResourceExtractionError -> ...),
    or None. Callers that run the source themselves (dagster-dlt) use it to show Capsule's message."""
    found = find_cause(exc, (CapsuleError,))
    if isinstance(found, (CapsuleRateLimitReached, CapsuleUnavailable)) and not found.advice:
        found.with_advice(RESUME_ADVICE)
    return found  # type: ignore[return-value]


def failure(pipeline: dlt.Pipeline, exc: Exception, settings: Settings | None = None) -> CapsuleError:
    """What to raise when ``pipeline.run`` failed. A package that failed to normalise or load is
    aborted (dlt restores the cursors it had before), so the next run starts cleanly from the last
    successful cursors instead of retrying a broken package forever."""
    if pipeline.has_pending_data:
        pipeline.abort_packages()
    cause = capsule_error(exc)
    if cause is not None:
        return cause
    root: BaseException = exc
    while root.__cause__ is not None or getattr(root, "exception", None) is not None:
        root = root.__cause__ or root.exception  # type: ignore[attr-defined]
    reason = (str(root).strip().splitlines() or [type(root).__name__])[0]
    where = str(settings.duckdb_path) if settings is not None else "DuckDB"
    step = getattr(exc, "step", "load")
    locked = isinstance(exc, DestinationConnectionError) or "lock" in reason.lower()
    hint = " Another program may have the file open for writing: close it and run again." if locked else ""
    return CapsuleLoadFailed(
        f"Writing the Capsule extract into {where} failed at the {step} step "
        f"({type(root).__name__}: {reason}).{hint} Its cursors were rolled back: the next run continues "
        "from the cursors of the last successful run and reads these changes again."
    )


def before_load(pipeline: dlt.Pipeline) -> drift.Snapshot:
    """Before running the source: restore state and schema from DuckDB when the working folder was
    lost, make the cursors agree with the DuckDB file (a file lost, emptied or put back from a backup
    is read in full or from its own cursors, never from newer ones: pipelines/cursors.py), and
    snapshot the tables, so ``after_load`` can tell drift from the first load. Raises
    ``DuckDBFileProblem`` when the file is damaged or another program holds it."""
    align_cursors(pipeline, duckdb_path_of(pipeline), CURSOR_TABLES)
    return drift.snapshot(pipeline)


def after_load(
    pipeline: dlt.Pipeline, before: drift.Snapshot, load_info: LoadInfo
) -> list[drift.SchemaChange]:
    """After a successful run: create declared tables that are still missing, then report schema
    drift (a warning per change) and record it in ``raw.capsule_schema_changes``."""
    create_missing_tables(pipeline)
    changes = drift.changes(before, load_info)
    for change in changes:
        log.warning("Capsule schema drift: %s", change.describe())
    if changes:
        pipeline.run(
            [change.as_row() for change in changes],
            table_name=drift.CHANGES_TABLE,
            write_disposition="append",
            loader_file_format=LOADER_FILE_FORMAT,
        )
    return changes


def capsule_pages(pacer: CapsulePacer, progress: Callable[[Progress], None]) -> OpenEndedStage:
    """Progress of a Capsule read (stage ``capsule``): pages read, calls made, calls left this hour."""
    meter = StageMeter(
        "capsule",
        unit="pages",
        calls=lambda: (pacer.calls, pacer.budget.remaining),
        period="this hour",
    )
    return OpenEndedStage(meter, progress)


def extract_capsule(
    settings: Settings,
    full_refresh: bool = False,
    *,
    pacer: CapsulePacer | None = None,
    timeout: float | tuple[float, float] = REQUEST_TIMEOUT,
    per_page: int = PER_PAGE,
    resources: Sequence[str] | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> CapsuleExtract:
    """Run the Capsule extract into ``raw``; returns load info, row counts, calls and schema drift.

    ``progress`` gets the pages read so far (stage ``capsule``), the calls made and the calls left this
    hour; the total is unknown (Capsule says only whether there is a next page), so is the ETA.

    ``full_refresh`` drops the capsule_* tables and cursors and reads everything again. ``resources``
    reads only those (the webhook fast lane's ``parties`` and ``deleted_parties``: two requests
    instead of eleven); the others keep their tables and cursors for the next whole read.
    Raises ``CapsuleError`` subclasses with a message a person can act on (never the token),
    ``DuckDBFileProblem`` when the DuckDB file is damaged or held by another program, and
    ``HomeBusy`` when another run holds CAPSULE_XERO_HOME."""
    with home_lock(settings.home):
        return _extract_capsule(
            settings,
            full_refresh,
            pacer=pacer,
            timeout=timeout,
            per_page=per_page,
            resources=resources,
            progress=progress,
        )


def _extract_capsule(
    settings: Settings,
    full_refresh: bool,
    *,
    pacer: CapsulePacer | None,
    timeout: float | tuple[float, float],
    per_page: int,
    resources: Sequence[str] | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> CapsuleExtract:
    pacer = pacer or shared_pacer(settings.capsule_api_url, settings.capsule_api_token)
    pipeline = capsule_pipeline(settings)
    calls, retries = pacer.calls, pacer.retries
    pages = capsule_pages(pacer, progress) if progress is not None else None
    source = capsule_source(
        settings, pacer=pacer, timeout=timeout, per_page=per_page, on_page=pages.step if pages else None
    )
    if resources is not None:
        if full_refresh:
            raise ValueError("a full refresh reads every resource")
        source = source.with_resources(*resources)
    if full_refresh:
        check_duckdb_file(settings.duckdb_path)
    try:
        before = {} if full_refresh else before_load(pipeline)
        info = pipeline.run(source, refresh="drop_sources" if full_refresh else None)
    except (PipelineStepFailed, DestinationConnectionError) as exc:
        raise failure(pipeline, exc, settings) from exc
    if pages is not None:
        pages.finish()
    counts = dict(pipeline.last_trace.last_normalize_info.row_counts) if pipeline.last_trace else {}
    result = CapsuleExtract(info, counts, pacer.calls - calls, pacer.retries - retries)
    result.schema_changes = after_load(pipeline, before, info)
    budget = pacer.budget
    left = f", {budget.remaining:,} left this hour" if budget.remaining is not None else ""
    log.info(
        "Capsule extract: %s rows loaded, %s API calls (%s retried)%s",
        f"{sum(v for k, v in counts.items() if k.startswith(TABLE_PREFIX)):,}",
        result.calls,
        result.retries,
        left,
    )
    return result


def run_capsule_extract(settings: Settings, full_refresh: bool = False, **options: Any) -> LoadInfo:
    """The plain entry point for the CLI and Dagster: extract Capsule into ``raw``; returns LoadInfo."""
    return extract_capsule(settings, full_refresh, **options).load_info

"""The Xero source: contacts, contact groups and users into DuckDB schema ``raw`` (tables ``xero_*``).

``run_xero_extract(settings)`` is what the CLI and Dagster call; ``xero_source(...)`` is the dlt
source for ``@dlt_assets``; ``xero_pipeline(settings)`` the pipeline both use (working folder under
CAPSULE_XERO_HOME, destination the project's DuckDB file, dataset ``raw``).

- ``xero_contacts``: ``GET /Contacts?includeArchived=true`` 1,000 at a time, ``If-Modified-Since``
  from the cursor (``UpdatedDateUTC``, kept by ``dlt.sources.incremental`` in the pipeline state,
  which dlt restores from DuckDB when the working folder is lost). Balances, IsCustomer and
  IsSupplier changes do not move UpdatedDateUTC, so a periodic full read (every 7 days by default,
  or on demand) re-reads everything; it is resumable (a run stopped by the daily limit continues it).
  Group membership comes from here too (each paged contact lists its ``ContactGroups``, nested
  table ``xero_contacts__contact_groups``): no extra call, where ``GET /ContactGroups/{id}`` would
  cost one call per group on every run. Xero does not date membership changes, so one made in
  Xero's UI on a contact that is not otherwise edited shows at the next full read.
- ``xero_contact_groups``: ``GET /ContactGroups``, one call, whole every run: the endpoint has no
  ``If-Modified-Since`` and groups no UpdatedDateUTC, so there is no cursor to keep. Deleted groups
  drop out of that list; they are written once more with ``Status = DELETED``.
- ``xero_users``: ``GET /Users`` with ``If-Modified-Since`` from its cursor (no paging in Xero).
- ``xero_schema_drift``: fields Xero sent that its spec does not list, or with another JSON type;
  the data is loaded anyway (dlt adds the column), the finding is recorded here and logged.

- Money (``pipelines/xero/money.py``): invoices, bills, credit notes, payments, quotes, items,
  accounts and the settings, only as far as the rules file's ``money.read`` turns them on; the
  calls each costs per run are counted there.

Every table above but the drift one exists after the first run, empty if Xero had nothing for it
(``create_missing_tables``, called after each load: a new organisation has no contacts or groups).
Callers that run the source themselves (dagster-dlt) call it after ``pipeline.run``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.pipeline.exceptions import PipelineStepFailed

from capsule_xero.home_lock import home_lock
from capsule_xero.progress import OpenEndedStage, Progress, StageMeter
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, XeroAuthError
from capsule_xero.xero.errors import DailyLimitReached, XeroUnavailable
from capsule_xero.xero.pacing import PacingPolicy
from capsule_xero.xero.transports import (
    PacedHTTPAdapter,
    PacedTransport,
    calls_and_day_left,
    pacer_for,
    reset_pacers,
)
from pipelines import declared_tables, find_cause, prepare_dlt
from pipelines.cursors import align_cursors, duckdb_path_of
from pipelines.xero.drift import DriftDetector
from pipelines.xero.helpers import XeroAccessDenied, XeroApi, XeroApiError, XeroRequestsAuth, XeroRun
from pipelines.xero.money import MONEY_CURSOR_TABLES, money_declared, money_read, money_resources
from pipelines.xero.resources import contacts_resource, drift_transformer, groups_resource, users_resource
from pipelines.xero.settings import (
    CONTACT_FIELDS,
    CONTACT_NESTED,
    CONTACTS_TABLE,
    DATASET_NAME,
    DECLARED_CHILDREN,
    DECLARED_TABLES,
    GROUP_FIELDS,
    PIPELINE_NAME,
    SOURCE_NAME,
    USER_FIELDS,
    USERS_TABLE,
    XeroExtractConfig,
)

__all__ = [
    "DailyLimitReached",
    "PacedHTTPAdapter",
    "PacedTransport",
    "PacingPolicy",
    "XeroAccessDenied",
    "XeroApiError",
    "XeroExtractConfig",
    "XeroRequestsAuth",
    "XeroRun",
    "XeroUnavailable",
    "before_load",
    "create_missing_tables",
    "pacer_for",
    "reset_pacers",
    "run_xero_extract",
    "xero_pipeline",
    "xero_requests",
    "xero_source",
]

log = logging.getLogger("pipelines.xero")


@dlt.source(name=SOURCE_NAME)
def xero_source(
    settings: Settings | None = None,
    options: XeroExtractConfig | None = None,
    run: XeroRun | None = None,
    auth: XeroAuth | None = None,
    rules: Rules | None = None,
) -> Any:
    """Xero contacts, contact groups, users and drift findings; money as ``rules.money.read`` says
    (none without rules).

    Nothing is read or signed in until the pipeline runs: settings default to the environment at
    that moment, so the source can be built at import time (Dagster) without any credential.
    ``options`` default to the settings' (``XeroExtractConfig.of``), or without settings to the defaults.
    """
    options = options or (XeroExtractConfig.of(settings) if settings is not None else XeroExtractConfig())
    run = run if run is not None else XeroRun()
    api = XeroApi(settings, options, auth)
    contacts, groups, users = contacts_resource(api, run), groups_resource(api, run), users_resource(api, run)
    return (
        contacts,
        groups,
        users,
        drift_transformer(
            contacts, DriftDetector("Contact", CONTACT_FIELDS, CONTACT_NESTED, "ContactID"), run
        ),
        drift_transformer(groups, DriftDetector("ContactGroup", GROUP_FIELDS, {}, "ContactGroupID"), run),
        drift_transformer(users, DriftDetector("User", USER_FIELDS, {}, "UserID"), run),
        *money_resources(api, run, money_read(rules)),
    )


def xero_pipeline(settings: Settings) -> dlt.Pipeline:
    """The dlt pipeline: working folder ``$CAPSULE_XERO_HOME/dlt``, the project's DuckDB file, dataset ``raw``."""
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(prepare_dlt(settings.home, PIPELINE_NAME)),
        destination=dlt.destinations.duckdb(str(settings.duckdb_path)),
        dataset_name=DATASET_NAME,
    )


# Resources with a cursor, and the table whose rows that cursor describes (pipelines/cursors.py).
CURSOR_TABLES = {CONTACTS_TABLE: CONTACTS_TABLE, USERS_TABLE: USERS_TABLE, **MONEY_CURSOR_TABLES}


def before_load(pipeline: dlt.Pipeline) -> list[str]:
    """Before running the source: make the cursors agree with the DuckDB file, so a file lost,
    emptied or put back from an older backup is read in full (or from the cursors it holds itself),
    never incrementally from newer cursors into tables that lack what they describe: Xero would
    look empty and matching would create contacts it already has. Returns the resources reset.
    Raises ``DuckDBFileProblem`` when the file is damaged or another program holds it."""
    reset = align_cursors(pipeline, duckdb_path_of(pipeline), CURSOR_TABLES)
    if reset:
        log.warning("Xero: cursors reset to the DuckDB file's (%s)", ", ".join(reset))
    return reset


def create_missing_tables(pipeline: dlt.Pipeline, rules: Rules | None = None) -> list[str]:
    """After a load: create, empty, every declared table that has had no row yet (a new organisation
    without contacts or groups, or contacts none of which has ContactPersons, Addresses or
    ContactGroups; the money tables ``rules`` turns on), so the staging SQL can always select from
    it. Same columns and types as dlt creates them; when rows arrive, dlt finds the table and loads
    into it. Returns those created."""
    money_tables, money_children = money_declared(money_read(rules))
    created = declared_tables.create_missing_tables(
        pipeline, {**DECLARED_TABLES, **money_tables}, {**DECLARED_CHILDREN, **money_children}
    )
    if created:
        log.info("Xero had nothing yet for %s: created empty", ", ".join(created))
    return created


_ERRORS = (XeroAuthError, XeroApiError, XeroUnavailable, DailyLimitReached)


def xero_error(exc: BaseException) -> BaseException | None:
    """The Xero error inside what dlt raised (PipelineStepFailed -> ResourceExtractionError -> ...),
    or None; callers that run the source themselves (dagster-dlt) raise it to show Xero's message."""
    return find_cause(exc, _ERRORS)


def xero_requests(settings: Settings, run: XeroRun, progress: Callable[[Progress], None]) -> OpenEndedStage:
    """Progress of a Xero read (stage ``xero``): requests made, with the calls left today; ``run``
    reports each page."""
    url = settings.xero_api_url
    stage = OpenEndedStage(
        StageMeter("xero", unit="requests", calls=lambda: calls_and_day_left(url)), progress
    )
    run.on_page = stage.step
    return stage


def run_xero_extract(
    settings: Settings | None = None,
    full_refresh: bool = False,
    options: XeroExtractConfig | None = None,
    run: XeroRun | None = None,
    rules: Rules | None = None,
    resources: Sequence[str] | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> LoadInfo:
    """Extract Xero into DuckDB and return dlt's LoadInfo.

    ``resources`` reads only those (the webhook fast lane's ``xero_contacts``: one request when few
    contacts changed); the others keep their tables and cursors for the next whole read.

    ``progress`` gets the requests made so far (stage ``xero``) with the calls left today; the total
    is unknown until the last page (Xero does not say how many pages there are), so is the ETA.

    ``rules``: the rules file, whose ``money.read`` says which money to read; read from
    ``CAPSULE_XERO_CONFIG`` (or ./capsule-xero.yaml) when not given.

    ``full_refresh=True`` forces the full read now (re-reading every contact, merged by ContactID;
    nothing is dropped). Raises ``DailyLimitReached`` (with ``.load_info``) after loading what was
    read when the daily limit stopped the reads, and ``XeroAccessDenied`` / ``XeroApiError`` /
    ``XeroUnavailable`` with a message saying what to do when Xero refused or kept failing;
    ``DuckDBFileProblem`` when the DuckDB file is damaged or held by another program, and
    ``HomeBusy`` when another run holds CAPSULE_XERO_HOME.
    """
    settings = settings or Settings.from_env()
    if rules is None:
        from capsule_xero.rules.loading import load_rules

        rules = load_rules(settings.config_file)
    with home_lock(settings.home):
        return _run_xero_extract(settings, full_refresh, options, run, rules, resources, progress)


def _run_xero_extract(
    settings: Settings,
    full_refresh: bool,
    options: XeroExtractConfig | None,
    run: XeroRun | None,
    rules: Rules,
    resources: Sequence[str] | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> LoadInfo:
    options = options or XeroExtractConfig.of(settings)
    if full_refresh:
        options = replace(options, force_full_read=True)
    run = run if run is not None else XeroRun()
    requests = xero_requests(settings, run, progress) if progress is not None else None
    pipeline = xero_pipeline(settings)
    before_load(pipeline)
    try:
        source = xero_source(settings, options, run, rules=rules)
        info = pipeline.run(source if resources is None else source.with_resources(*resources))
    except PipelineStepFailed as exc:
        cause = xero_error(exc)
        if cause is not None:
            raise cause from None
        raise
    create_missing_tables(pipeline, rules)
    if requests is not None:
        requests.finish()
    log.info(
        "Xero extract done: contacts %s; requests %s; records %s; %s drift finding(s)",
        run.modes.get(CONTACTS_TABLE, "not run"),
        run.requests,
        run.records,
        len(run.drift),
    )
    if run.stopped is not None:
        run.stopped.load_info = info
        raise run.stopped
    return info

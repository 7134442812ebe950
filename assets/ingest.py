"""Ingest assets: Capsule and Xero land in DuckDB schema ``raw`` through dlt, one asset per table.

The sources and pipelines are built when a step runs, from the settings of that moment: the ones
given to ``dlt_assets`` only describe the tables (dagster-dlt reads the pipeline for nothing else, and
accepts none), so loading the code location reads no setting and creates no folder.
"""

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from assets.resources import DAGSTER_WAIT_SECONDS, DUCKDB_POOL, dagster_step
from assets.tenancy import settings_for_run
from capsule_xero.capsule.pacing import shared_pacer
from capsule_xero.home_lock import home_lock
from capsule_xero.progress import EXTRACT_STAGES, ThrottledReporter
from capsule_xero.rules.loading import load_rules
from capsule_xero.rules.model import Rules
from pipelines import capsule, xero
from pipelines.xero.helpers import XeroRun
from pipelines.xero.money import MONEY_OBJECTS
from pipelines.xero.settings import XeroExtractConfig


class RawTableTranslator(DagsterDltTranslator):
    """Keys ``capsule/<table>`` and ``xero/<table>``; no upstream source stubs in the graph."""

    def __init__(
        self, system: str, descriptions: dict[str, str], skippable: frozenset[str] = frozenset()
    ) -> None:
        super().__init__()
        self.system = system
        self.descriptions = descriptions
        self.skippable = skippable

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        name = data.resource.name.removeprefix(f"{self.system}_")
        return spec.replace_attributes(
            key=dg.AssetKey([self.system, name]),
            group_name=f"{self.system}_extract",
            deps=[],
            description=self.descriptions.get(
                name, f"{self.system.title()} {name.replace('_', ' ')} in raw."
            ),
            # The destination names the storage kind; the description-only pipeline (None) names none.
            metadata={**spec.metadata, "dagster/storage_kind": "duckdb"},
            kinds={"dlt", "duckdb"},
            # Read only when the rules file turns it on (money): a run without it skips the asset.
            skippable=data.resource.name in self.skippable,
        )


CAPSULE_DESCRIPTIONS = {
    "parties": "Capsule people and organisations with tags and custom fields (incremental on updatedAt).",
    "users": "Capsule users (owners); their e-mail lives on each user's party.",
    "party_field_definitions": "Capsule custom-field definitions for parties (ABN, Xero Contact ID, ...).",
    "tags": "Capsule party tags.",
    "opportunities": "Capsule opportunities (incremental on updatedAt).",
    "kases": "Capsule projects, called kases in the API (incremental on updatedAt).",
    "tasks": "Capsule tasks in every status (the API has no since filter).",
    "deleted_parties": "Capsule parties deleted or no longer visible: to archive in Xero.",
    "deleted_opportunities": "Capsule opportunities deleted or no longer visible.",
    "deleted_kases": "Capsule kases deleted or no longer visible.",
}


@dlt_assets(
    dlt_source=capsule.capsule_source(),
    dlt_pipeline=None,
    name="capsule_extract",
    dagster_dlt_translator=RawTableTranslator("capsule", CAPSULE_DESCRIPTIONS),
    pool=DUCKDB_POOL,
)
def capsule_extract(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
    """Read Capsule into DuckDB raw: changed records since the cursors, plus deletions. Logs the pages
    read, the calls made and the calls left this hour at most every ~10 s (Dagster has no live
    metadata mid-step)."""
    settings = settings_for_run(context.run)
    pacer = shared_pacer(settings.capsule_api_url, settings.capsule_api_token)
    pages = capsule.capsule_pages(pacer, ThrottledReporter(context.log.info, names=EXTRACT_STAGES))
    # The home's lock, as `capsule-xero sync` takes it: a CLI run and this one never share dlt's folder.
    with home_lock(settings.home, dagster_step(context), wait=DAGSTER_WAIT_SECONDS):
        pipeline = capsule.capsule_pipeline(settings)
        before = capsule.before_load(pipeline)
        try:
            yield from dlt.run(
                context=context,
                dlt_source=capsule.capsule_source(settings, pacer=pacer, on_page=pages.step),
                dlt_pipeline=pipeline,
            )
        except Exception as exc:
            raise capsule.failure(pipeline, exc, settings) from None
        pages.finish()
        changes = capsule.after_load(pipeline, before, pipeline.last_trace.last_load_info)
    if changes:
        context.log.warning("Capsule schema drift: " + "; ".join(c.describe() for c in changes))


class XeroReadConfig(dg.Config):
    """full_read: read every contact instead of those changed since the cursor (the nightly run)."""

    full_read: bool = False


XERO_DESCRIPTIONS = {
    "contacts": "Xero contacts incl. archived (If-Modified-Since on UpdatedDateUTC, plus a periodic full read).",
    "contact_groups": "Xero contact groups; membership comes with each contact.",
    "users": "Xero users, to map Capsule owners by e-mail.",
    "schema_drift_contacts": "New or changed fields Xero sent on contacts (recorded, not fatal).",
    "schema_drift_contact_groups": "New or changed fields Xero sent on contact groups.",
    "schema_drift_users": "New or changed fields Xero sent on users.",
    "invoices": "Xero sales invoices and bills, voided and deleted too (rules money.read: invoices).",
    "credit_notes": "Xero credit notes with their allocations (rules money.read: invoices).",
    "payments": "Xero payments, deleted ones too (rules money.read: payments).",
    "quotes": "Xero quotes in every status (rules money.read: quotes).",
    "items": "Xero items (rules money.read: invoices).",
    "accounts": "Xero chart of accounts (any money.read).",
    "tax_rates": "Xero tax rates, archived too (any money.read).",
    "tracking_categories": "Xero tracking categories and options, archived too (any money.read).",
    "currencies": "Xero currencies the organisation uses (any money.read).",
    "organisation": "The Xero organisation: base currency, tax basis (any money.read).",
}
# The Dagster graph shows every money table; a run reads those the rules file turns on.
EVERY_MONEY = Rules.model_validate({"money": {"read": ["invoices", "quotes", "payments"]}})
MONEY_ASSETS = frozenset(
    name
    for obj in MONEY_OBJECTS
    for name in (obj.table, f"xero_schema_drift_{obj.table.removeprefix('xero_')}")
)


@dlt_assets(
    dlt_source=xero.xero_source(options=XeroExtractConfig(), rules=EVERY_MONEY),
    dlt_pipeline=None,
    name="xero_extract",
    dagster_dlt_translator=RawTableTranslator("xero", XERO_DESCRIPTIONS, MONEY_ASSETS),
    pool=DUCKDB_POOL,
)
def xero_extract(
    context: dg.AssetExecutionContext, dlt: DagsterDltResource, config: XeroReadConfig
) -> Iterator[Any]:
    """Read Xero into DuckDB raw: contacts changed since the cursor, groups, users, and the money
    the rules file's money.read turns on. Logs the requests made and the Xero calls left today at
    most every ~10 s (Dagster has no live metadata mid-step)."""
    settings = settings_for_run(context.run)
    rules = load_rules(settings.config_file)
    run = XeroRun()
    requests = xero.xero_requests(settings, run, ThrottledReporter(context.log.info, names=EXTRACT_STAGES))
    options = XeroExtractConfig.of(settings)
    if config.full_read:
        options = replace(options, force_full_read=True)
    source = xero.xero_source(settings, options, run, rules=rules)
    with home_lock(settings.home, dagster_step(context), wait=DAGSTER_WAIT_SECONDS):
        pipeline = xero.xero_pipeline(settings)
        # A lost, emptied or restored DuckDB file is read in full, never from newer cursors.
        xero.before_load(pipeline)
        try:
            yield from dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline)
        except Exception as exc:
            raise (xero.xero_error(exc) or exc) from None
        requests.finish()
        xero.create_missing_tables(
            pipeline, rules
        )  # a new organisation has no contacts yet; staging selects anyway
    if run.stopped is not None:
        # What was read is loaded and the cursor kept; the message says when the budget is back.
        raise run.stopped

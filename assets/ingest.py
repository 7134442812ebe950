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
        self,
        system: str,
        descriptions: dict[str, tuple[str, str]],
        skippable: frozenset[str] = frozenset(),
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
            description=self.description(name),
            # The destination names the storage kind; the description-only pipeline (None) names none.
            metadata={**spec.metadata, "dagster/storage_kind": "duckdb"},
            kinds={"dlt", "duckdb"},
            # Read only when the rules file turns it on (money): a run without it skips the asset.
            skippable=data.resource.name in self.skippable,
        )

    def description(self, name: str) -> str:
        """What table ``name`` holds, in words, and the section of docs/ that explains it."""
        if name in self.descriptions:
            text, link = self.descriptions[name]
        elif name.startswith("schema_drift_"):
            what, link = SCHEMA_DRIFT
            text = what.format(what=name.removeprefix("schema_drift_").replace("_", " "))
        else:
            text = f"{self.system.title()} {name.replace('_', ' ')}, as last read."
            link = "docs/architecture.md#data-flow"
        return f"{text}\n\nSee {link}."


# What each raw table holds, for the asset's description in the Dagster UI, with the section of docs/
# that explains it (RawTableTranslator.description adds the link).
CAPSULE_DESCRIPTIONS = {
    "parties": (
        "The people and organisations in Capsule, with their tags and custom fields, as last read "
        "(each run reads only those changed since the one before).",
        "docs/mapping.md#which-capsule-records-become-xero-contacts",
    ),
    "users": (
        "The Capsule users who own parties; owners become contact groups in Xero.",
        "docs/mapping.md#contact-groups-tags-and-owners",
    ),
    "party_field_definitions": (
        "The custom fields set up in Capsule for parties (ABN, Xero Contact ID, ...).",
        "docs/mapping.md#the-xero-contact-id-custom-field",
    ),
    "tags": ("The tags used on Capsule parties.", "docs/mapping.md#contact-groups-tags-and-owners"),
    "opportunities": (
        "Capsule opportunities (changed ones each run): summarised in the contact's History in Xero.",
        "docs/mapping.md#history-notes-opportunities-cases-and-tasks",
    ),
    "kases": (
        "Capsule projects (the API calls them kases): summarised in the contact's History in Xero.",
        "docs/mapping.md#history-notes-opportunities-cases-and-tasks",
    ),
    "tasks": (
        "Capsule tasks, open and done: summarised in the contact's History in Xero.",
        "docs/mapping.md#history-notes-opportunities-cases-and-tasks",
    ),
    "deleted_parties": (
        "Parties deleted in Capsule (or no longer visible to the token): their Xero contacts are archived.",
        "docs/mapping.md#deleted-in-capsule-archive-and-restore",
    ),
    "deleted_opportunities": (
        "Opportunities deleted in Capsule (or no longer visible to the token).",
        "docs/mapping.md#history-notes-opportunities-cases-and-tasks",
    ),
    "deleted_kases": (
        "Projects (kases) deleted in Capsule (or no longer visible to the token).",
        "docs/mapping.md#history-notes-opportunities-cases-and-tasks",
    ),
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


MONEY_READ = "docs/reports.md#money-reports"
XERO_DESCRIPTIONS = {
    "contacts": (
        "The contacts in Xero, archived ones too, as last read (changed ones each run, all of them now "
        "and then, since a balance changes without a date).",
        "docs/api-facts.md#xero-reading-contacts",
    ),
    "contact_groups": (
        "Xero's contact groups; the sync keeps the ones named after Capsule tags and owners.",
        "docs/mapping.md#contact-groups-tags-and-owners",
    ),
    "users": (
        "The Xero users, matched to Capsule owners by e-mail.",
        "docs/mapping.md#contact-groups-tags-and-owners",
    ),
    "invoices": (
        "Sales invoices and bills from Xero, voided and deleted ones too (when the rules file's money.read "
        "lists invoices).",
        MONEY_READ,
    ),
    "credit_notes": ("Credit notes from Xero with their allocations (money.read: invoices).", MONEY_READ),
    "payments": ("Payments from Xero, deleted ones too (money.read: payments).", MONEY_READ),
    "quotes": ("Quotes from Xero in every status (money.read: quotes).", MONEY_READ),
    "items": ("The items (products and services) set up in Xero (money.read: invoices).", MONEY_READ),
    "accounts": ("Xero's chart of accounts (any money.read).", MONEY_READ),
    "tax_rates": ("Xero's tax rates, archived ones too (any money.read).", MONEY_READ),
    "tracking_categories": ("Xero's tracking categories and options (any money.read).", MONEY_READ),
    "currencies": ("The currencies the Xero organisation uses (any money.read).", MONEY_READ),
    "organisation": ("The Xero organisation: its base currency and GST basis (any money.read).", MONEY_READ),
}
# New or changed fields an API sends: recorded, never a failed run.
SCHEMA_DRIFT = (
    "Fields Xero sent on {what} that the sync did not know: recorded for a look, never a failed run.",
    "docs/architecture.md#data-flow",
)
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

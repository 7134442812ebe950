"""A small generated world where a few Capsule opportunities were won today, synced with a ``billing:``
rules section (docs/billing.md): the sandbox serves it, the extract signs in for what the rules need.

In ``generate(30, seed=3)``: party 254000045 (an organisation whose Xero contact the diff updates)
has opportunity 8840008 "Pilot project" (219462.95 AUD) and 8840007 (no value); party 254000039 (an
organisation the plan creates in Xero) has 8840006 (19009.44 AUD). ``won_world`` marks them won today.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx

from capsule_xero.rules.model import Rules
from capsule_xero.xero.auth import XeroAuth, login
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from pipelines.xero.settings import XeroExtractConfig
from sandbox.generator import Dataset, generate
from sandbox.xero.money import book_of
from tests.support.sync_world import PACING, World

KNOWN_PARTY = 254000045  # its contact exists in Xero (the diff updates it)
NEW_PARTY = 254000039  # the same plan creates its contact
PILOT = 8840008  # KNOWN_PARTY's, 219462.95 AUD
SUPPLY = 8840006  # NEW_PARTY's, 19009.44 AUD
NO_VALUE = 8840007  # KNOWN_PARTY's, no value
REGION_TAG = {"id": 99901, "name": "Region:NSW", "dataTag": False}


def won_world(
    won: tuple[int, ...] = (PILOT, SUPPLY, NO_VALUE), tags: dict[int, list[str]] | None = None
) -> Dataset:
    """The 30-party world with ``won`` closed as won today and KNOWN_PARTY tagged Region:NSW."""
    dataset = generate(30, seed=3)
    today = datetime.now(UTC).date().isoformat()
    opportunities = []
    for opportunity in dataset.capsule_opportunities:
        if opportunity["id"] in won:
            opportunity = copy.deepcopy(opportunity)
            opportunity |= {
                "milestone": {"id": 40114, "name": "Won"},
                "probability": 100,
                "closedOn": today,
                "lostReason": None,
            }
        opportunities.append(opportunity)
    dataset.capsule_opportunities = opportunities
    extra = {KNOWN_PARTY: ["Region:NSW"], **(tags or {})}
    parties = []
    for party in dataset.capsule_parties:
        if party["id"] in extra:
            party = copy.deepcopy(party)
            party["tags"] = list(party.get("tags") or []) + [
                {"id": 99900 + n, "name": name, "dataTag": False} for n, name in enumerate(extra[party["id"]])
            ]
        parties.append(party)
    dataset.capsule_parties = parties
    return dataset


def billing_rules(**billing: Any) -> Rules:
    section = {"won_opportunities": "quote", "account_code": "200", "tax_type": "OUTPUT"} | billing
    return Rules.model_validate({"billing": section})


class BillingWorld(World):
    """A ``World`` whose extract signs in for, and reads, what its rules turn on."""

    def __init__(self, dataset: Dataset, home: Path, rules: Rules) -> None:
        super().__init__(dataset, home)
        self.use_rules(rules)

    def use_rules(self, rules: Rules) -> None:
        self.rules = rules
        self.auth = XeroAuth(self.settings, rules=rules)
        login(
            self.auth,
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True, timeout=30),
        )

    def extract(self) -> None:
        extract_capsule(self.settings)
        run_xero_extract(self.settings, options=replace(XeroExtractConfig(), pacing=PACING), rules=self.rules)

    def quotes(self) -> list[dict[str, Any]]:
        """Every quote of the organisation as the stand-in holds it."""
        return self.server.call(
            lambda: [copy.deepcopy(q) for q in book_of(self.sandbox.xero.primary).quotes.records.values()]
        )

    def invoices(self) -> list[dict[str, Any]]:
        return self.server.call(
            lambda: [copy.deepcopy(i) for i in book_of(self.sandbox.xero.primary).invoices.records.values()]
        )

    def history(self, document_id: str) -> list[dict[str, Any]]:
        book = self.server.call(lambda: book_of(self.sandbox.xero.primary))
        return self.server.call(lambda: copy.deepcopy(book.history.get(document_id, [])))

    def opportunity_field(self, opportunity_id: int, name: str = "Xero document") -> str | None:
        """The value of the opportunity's custom field ``name`` in the Capsule stand-in."""

        def read() -> str | None:
            record = self.sandbox.capsule.opportunities.get(opportunity_id) or {}
            for value in record.get("fields") or ():
                if value["definition"]["name"] == name:
                    return str(value["value"])
            return None

        return self.server.call(read)

    def calls(self, since: int) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.server.call(lambda: self.sandbox.calls.records("xero", since))]

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.settings.duckdb_path))


def by_reference(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        if document.get("Reference"):
            out.setdefault(document["Reference"], []).append(document)
    return out

"""Won Capsule opportunities become DRAFT quotes in Xero exactly once, through the plan, the approval and
the apply loop against the stand-ins: the party's contact (created first when it had none), the exact
line, a History note naming the opportunity; never two documents for one opportunity, not even when
Xero's answer is lost after it committed; nothing at all while billing is off."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx

from capsule_xero.rules.model import Rules
from capsule_xero.xero.auth import XeroAuth, login
from reverse_etl.plans.documents import plan_documents
from reverse_etl.plans.render import render_plan
from reverse_etl.undo import undo_plan
from reverse_etl.writers.xero import XeroContactWriter
from reverse_etl.writers.xero_documents import DraftDocument, XeroDocumentWriter
from sandbox.control import SandboxControl
from sandbox.generator import generate
from sandbox.xero.money import book_of
from tests.support.billing_world import (
    KNOWN_PARTY,
    NEW_PARTY,
    NO_VALUE,
    PILOT,
    SUPPLY,
    BillingWorld,
    billing_rules,
    by_reference,
    won_world,
)
from tests.support.sync_world import PACING, World, by_contact_number, xero_contacts

REGION = {"category": "Region", "from_tag_prefix": "Region:"}
QUOTES = "/api.xro/2.0/Quotes"
MONEY_PATHS = ("/api.xro/2.0/Quotes", "/api.xro/2.0/Invoices", "/opportunities")


def ref(opportunity: int) -> str:
    return f"CAP-OPP-{opportunity}"


def test_a_won_opportunity_becomes_one_draft_quote_for_the_partys_contact_once_approved(
    tmp_path: Path,
) -> None:
    with BillingWorld(won_world(won=(PILOT, NO_VALUE)), tmp_path, billing_rules(tracking=REGION)) as world:
        # SUPPLY is won the way a person wins it in Capsule (which fires opportunity/closed).
        today = datetime.now(UTC).date().isoformat()
        world.server.call(lambda: world.sandbox.capsule.win_opportunity(SUPPLY, closed_on=today))
        since = world.last_call()
        run = world.sync()
        plan = run.plan
        assert plan.counts["draft_quote"] == 2 and plan.counts["documents_in_review"] == 1
        assert (
            "2 draft quotes to create in Xero (every billing document waits for approval unless"
            " billing.auto_approve_under is set)"
        ) in plan.approval_reasons
        with world.connect() as con:
            shown = str(render_plan(con, plan).renderables)
            review = {d.reference: d.reason for d in plan_documents(con, plan.plan_id, operation="review")}
        assert (
            f"+ draft quote {ref(PILOT)} for Whitehead Hardware Australia: Pilot project 219462.95 AUD (Exclusive GST)"
            in shown
        )
        assert "has no value: give it a value in Capsule" in (review[ref(NO_VALUE)] or "")

        quotes = by_reference(world.quotes())
        assert ref(NO_VALUE) not in quotes  # in review: never sent
        (pilot,) = quotes[ref(PILOT)]
        (supply,) = quotes[ref(SUPPLY)]
        contacts = by_contact_number(xero_contacts(world))
        (known,) = contacts[f"CAP-{KNOWN_PARTY}"]
        (created,) = contacts[f"CAP-{NEW_PARTY}"]  # made by the same plan, before its quote
        assert pilot["Contact"]["ContactID"] == known["ContactID"]
        assert supply["Contact"]["ContactID"] == created["ContactID"]
        assert pilot["Status"] == supply["Status"] == "DRAFT"
        (line,) = pilot["LineItems"]
        assert line["Description"] == "Pilot project" and line["Quantity"] == 1
        assert line["UnitAmount"] == Decimal("219462.95") and line["LineAmount"] == Decimal("219462.95")
        assert (line["AccountCode"], line["TaxType"]) == ("200", "OUTPUT")
        assert [(t["Name"], t["Option"]) for t in line["Tracking"]] == [("Region", "NSW")]
        assert pilot["TotalTax"] == Decimal("21946.30")
        notes = [h["Details"] for h in world.history(pilot["QuoteID"]) if h["Changes"] == "Note"]
        assert notes == [
            f"Created as a DRAFT by capsule-xero from Capsule opportunity {PILOT} “Pilot project” when it was"
            f" won (Reference {ref(PILOT)})."
        ]
        assert run.result is not None and run.result.problems == []
        assert run.result.counts()["draft_documents"] == 2
        assert world.opportunity_field(PILOT) == (
            f"{pilot['QuoteNumber']} https://go.xero.com/app/quotes/edit/{pilot['QuoteID']}"
        )
        assert world.opportunity_field(SUPPLY) == (
            f"{supply['QuoteNumber']} https://go.xero.com/app/quotes/edit/{supply['QuoteID']}"
        )
        # Billing alone reads the settings and items its preflight needs, and not one invoice.
        read = {c["path"] for c in world.calls(since) if c["method"] == "GET"}
        assert {
            f"/api.xro/2.0/{name}" for name in ("Accounts", "TaxRates", "TrackingCategories", "Items")
        } <= read
        assert "/api.xro/2.0/Invoices" not in read
        # The tool never approves, sends, voids or deletes: its only document writes are PUTs that create.
        document_writes = [
            c
            for c in world.calls(since)
            if c["path"].startswith(QUOTES) and c["method"] in ("POST", "DELETE")
        ]
        assert document_writes == []

        # Undo leaves the drafts in Xero, and says so.
        with world.connect() as con, XeroContactWriter(world.settings, world.auth, policy=PACING) as writer:
            undone = undo_plan(con, world.settings, plan.plan_id, writer=writer, rules=world.rules)
        assert sorted(undone.drafts_left) == sorted(
            f"draft quote {q['QuoteNumber']} ({q['Reference']}) https://go.xero.com/app/quotes/edit/{q['QuoteID']}"
            for q in (pilot, supply)
        )
        assert {q["Status"] for q in world.quotes() if q["Reference"] in (ref(PILOT), ref(SUPPLY))} == {
            "DRAFT"
        }


def test_billing_off_sends_no_document_and_makes_no_extra_call(tmp_path: Path) -> None:
    with BillingWorld(won_world(), tmp_path, Rules()) as world:
        since = world.last_call()
        run = world.sync()
        assert run.plan.counts.get("draft_quote") == 0 and run.plan.counts.get("documents_in_review") == 0
        touched = [c["path"] for c in world.calls(since) if c["path"].startswith(MONEY_PATHS)]
        assert touched == []
        assert not any(q.get("Reference", "").startswith("CAP-OPP") for q in world.quotes())


def test_neither_a_lost_answer_nor_a_quote_made_by_hand_ever_makes_a_second_document(tmp_path: Path) -> None:
    rules = billing_rules(opportunity_field="Xero link")  # Capsule defines no such opportunity field
    with BillingWorld(won_world(won=(PILOT, SUPPLY)), tmp_path, rules) as world:
        # Someone already typed PILOT's quote into Xero, with its Reference.
        (known,) = [c for c in xero_contacts(world) if c.get("Name") == "Russo Holdings Pty Ltd"]
        with XeroContactWriter(world.settings, world.auth, policy=PACING) as writer:
            XeroDocumentWriter(writer.session).create(by_hand(known["ContactID"]), "made-by-hand-1")
        control = SandboxControl(world.server.xero_url)
        # Every attempt of SUPPLY's PUT commits and loses its answer, the transport's retries (same
        # key) included: the run cannot know whether the quote exists.
        control.add_fault("xero", "PUT", QUOTES, times=PACING.attempts, drop=1.0)
        since = world.last_call()
        first = world.sync()
        assert first.result is not None and first.result.status == "partly_applied"
        assert first.result.documents_pending == 1
        assert any(
            f"{ref(PILOT)}: Xero already has" in p and "not created again" in p for p in first.result.problems
        )
        puts = [c for c in world.calls(since) if c["method"] == "PUT" and c["path"] == QUOTES]
        assert len(puts) == PACING.attempts and {c.get("fault") for c in puts} == {"drop"}  # all SUPPLY's
        assert len(by_reference(world.quotes())[ref(SUPPLY)]) == 1  # it did land
        control.clear_faults()

        since = world.last_call()
        second = world.sync()
        assert second.plan.resumes  # the interrupted plan stands; its lost quote is looked up, not sent
        assert second.result is not None and second.result.status == "applied"
        assert [c for c in world.calls(since) if c["method"] == "PUT" and c["path"] == QUOTES] == []
        quotes = by_reference(world.quotes())
        (pilot,) = quotes[ref(PILOT)]
        (supply,) = quotes[ref(SUPPLY)]  # found by its Reference, not made again
        assert pilot["Title"] == "Typed in by hand"
        notes = [h["Details"] for h in world.history(supply["QuoteID"]) if h["Changes"] == "Note"]
        assert len(notes) == 1 and f"opportunity {SUPPLY}" in notes[0]
        assert [h for h in world.history(pilot["QuoteID"]) if h["Changes"] == "Note"] == []  # not ours
        # The number and link cannot go to Capsule: said with the exact definition to create, every run.
        missing = (
            'Capsule has no opportunity field named "Xero link" (billing.opportunity_field): create it in Capsule'
            ' under Settings › Custom Fields › Opportunities as a Text field named "Xero link", then run'
            " `capsule-xero sync --apply` again"
        )
        assert missing in first.result.problems and missing in second.result.problems
        assert world.opportunity_field(SUPPLY, "Xero link") is None
        control.close()


def by_hand(contact_id: str) -> DraftDocument:
    return DraftDocument(
        kind="quote",
        reference=ref(PILOT),
        contact_id=contact_id,
        title="Typed in by hand",
        description="Pilot project (by hand)",
        quantity=Decimal("1"),
        unit_amount=Decimal("1000.00"),
        currency="AUD",
        line_amount_types="Exclusive",
        account_code="200",
        tax_type=None,
        item_code=None,
        tracking=(),
        date=datetime.now(UTC).date(),
    )


def test_a_draft_invoice_goes_with_exact_amounts_and_is_found_again_by_its_reference(tmp_path: Path) -> None:
    dataset = generate(5, seed=3)
    customer = next(c for c in dataset.xero_contacts if c.get("ContactStatus", "ACTIVE") == "ACTIVE")
    with World(dataset, tmp_path) as world:
        world.auth = XeroAuth(world.settings, rules=billing_rules(won_opportunities="invoice"))
        login(
            world.auth, choose_tenant=lambda c: c[0], open_url=lambda u: httpx.get(u, follow_redirects=True)
        )
        invoice = replace(by_hand(customer["ContactID"]), kind="invoice", reference="CAP-OPP-77")
        invoice = replace(invoice, unit_amount=Decimal("0.1648"), quantity=Decimal("3"))
        with XeroContactWriter(world.settings, world.auth, policy=PACING) as writer:
            documents = XeroDocumentWriter(writer.session)
            assert documents.find("invoice", "CAP-OPP-77", customer["ContactID"]) is None
            made = documents.create(invoice, "capsule-xero-opp-77-invoice-1")
            replayed = documents.create(invoice, "capsule-xero-opp-77-invoice-1")  # same key: Xero replays
            found = documents.find("invoice", "CAP-OPP-77", None)
        assert made == replayed == found
        assert made.number and made.number.startswith("INV-") and made.status == "DRAFT"
        assert made.url == f"https://go.xero.com/AccountsReceivable/Edit.aspx?InvoiceID={made.document_id}"
        (stored,) = by_reference(
            world.server.call(lambda: list(book_of(world.sandbox.xero.primary).invoices.records.values()))
        )["CAP-OPP-77"]
        (line,) = stored["LineItems"]
        assert (line["UnitAmount"], line["Quantity"], line["LineAmount"]) == (
            Decimal("0.1648"),
            Decimal("3"),
            Decimal("0.49"),
        )
        assert stored["Type"] == "ACCREC" and stored["Status"] == "DRAFT"

"""An apply stopped part way through a first migration with ``people: contacts`` (issue 11, item 3).

Xero's daily limit stops the apply after a few create batches: some people are in Xero, numbered
``CAP-<their id>``, and their organisations are not yet. The next sync must finish the same plan: an
organisation never takes one of its own people's new contacts for its own (by e-mail domain, ABN,
e-mail or name), so it is created, not sent to review, and the person keeps its contact.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from capsule_xero.rules.model import Rules
from capsule_xero.xero.transports import reset_pacers
from reverse_etl.apply.loop import apply_plan
from reverse_etl.plans.approval import approve
from reverse_etl.plans.create import create_plan
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.generator import generate
from sandbox.xero.control import XeroControl
from tests.support.sync_world import PACING, World, by_contact_number, fast_capsule_pacer, xero_contacts
from transform.stages import reconcile

pytestmark = pytest.mark.slow  # a 200-party migration, stopped and synced again: about 20 s

PARTIES = 200
SEED = 5
# Xero calls the stopped apply may make: one create batch of 50 and a few more calls, then 429s.
CALLS_BEFORE_THE_LIMIT = 3
RULES = Rules.model_validate({"sync": {"people": "contacts"}})


def stop_xero_after(world: World, calls: int) -> None:
    """Set the organisation's daily limit so that only ``calls`` more Xero calls are answered today."""
    with XeroControl(world.server.xero_url) as xero:
        (app,) = xero.limits()["apps"].values()
        used = xero.limits()["limits"]["day"] - app["day_remaining"]
        xero.set_limits(day=used + calls)


def lift_the_limit(world: World) -> None:
    """The next day: a fresh daily window in Xero, and a client that no longer waits for it."""
    with XeroControl(world.server.xero_url) as xero:
        xero.set_limits(day=5_000)
        xero.reset_limits()
    reset_pacers()


@pytest.fixture(scope="module")
def stopped_then_synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    with World(generate(parties=PARTIES, seed=SEED), tmp_path_factory.mktemp("stopped")) as world:
        world.rules = RULES
        world.extract()
        with world.connect() as con:
            reconcile(con, RULES)
            plan = create_plan(con, RULES)
            approve(con, plan.plan_id)
            planned = dict(
                con.execute(
                    "select party_id, operation from reconcile.contact_operations"
                    " where operation in ('create', 'review')"
                ).fetchall()
            )
            organisations = {
                row[0]
                for row in con.execute(
                    "select party_id from staging.capsule_parties where party_type = 'organisation'"
                ).fetchall()
            }
            stop_xero_after(world, CALLS_BEFORE_THE_LIMIT)
            with (
                XeroContactWriter(world.settings, world.auth, policy=PACING) as writer,
                CapsuleWriteBack(world.settings, pacer=fast_capsule_pacer()) as back,
            ):
                stopped = apply_plan(con, world.settings, RULES, plan.plan_id, writer=writer, capsule=back)
        created_before_the_stop = {
            number for number, found in by_contact_number(xero_contacts(world)).items() if found
        }
        lift_the_limit(world)
        rerun = world.sync()
        with world.connect() as con:
            reviewed_after = {
                row[0]: row[1]
                for row in con.execute(
                    "select party_id, review_reason from reconcile.contact_matches where outcome = 'review'"
                ).fetchall()
            }
        yield {
            "planned": planned,
            "organisations": organisations,
            "stopped": stopped,
            "created_before_the_stop": created_before_the_stop,
            "rerun": rerun,
            "reviewed_after": reviewed_after,
            "contacts": by_contact_number(xero_contacts(world)),
        }


def test_the_apply_stopped_part_way_with_people_in_xero_and_their_organisations_not_yet(
    stopped_then_synced: dict[str, object],
) -> None:
    stopped = stopped_then_synced["stopped"]
    assert stopped.status == "partly_applied"  # type: ignore[attr-defined]
    planned: dict[int, str] = stopped_then_synced["planned"]  # type: ignore[assignment]
    organisations: set[int] = stopped_then_synced["organisations"]  # type: ignore[assignment]
    created: set[str] = stopped_then_synced["created_before_the_stop"]  # type: ignore[assignment]
    people_in = {
        p for p, op in planned.items() if op == "create" and p not in organisations and f"CAP-{p}" in created
    }
    organisations_not = {
        p for p, op in planned.items() if op == "create" and p in organisations and f"CAP-{p}" not in created
    }
    assert people_in and organisations_not  # the situation the rerun has to handle


def test_after_the_stop_no_party_goes_to_review_that_the_same_plan_would_have_created(
    stopped_then_synced: dict[str, object],
) -> None:
    planned: dict[int, str] = stopped_then_synced["planned"]  # type: ignore[assignment]
    reviewed: dict[int, str] = stopped_then_synced["reviewed_after"]  # type: ignore[assignment]
    newly_reviewed = {p: reason for p, reason in reviewed.items() if planned.get(p) != "review"}
    assert newly_reviewed == {}


def test_the_rerun_creates_every_contact_the_plan_meant_to_create_exactly_once(
    stopped_then_synced: dict[str, object],
) -> None:
    planned: dict[int, str] = stopped_then_synced["planned"]  # type: ignore[assignment]
    contacts: dict[str, list[dict[str, object]]] = stopped_then_synced["contacts"]  # type: ignore[assignment]
    not_one_active = {
        p: [c["ContactStatus"] for c in contacts.get(f"CAP-{p}", [])]
        for p, op in planned.items()
        if op == "create" and [c["ContactStatus"] for c in contacts.get(f"CAP-{p}", [])] != ["ACTIVE"]
    }
    assert not_one_active == {}
    rerun = stopped_then_synced["rerun"]
    assert rerun.result is not None and rerun.result.status == "applied"  # type: ignore[attr-defined]

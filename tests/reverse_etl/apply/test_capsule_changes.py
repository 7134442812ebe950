"""The Capsule stage of an apply run (issue 13, pull) against the Capsule stand-in: every write recorded
before it leaves, its answer recorded with the stamps staging needs, a lost answer read back before
anything is sent again, Capsule's refusals and limits handled."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import duckdb
import pytest

from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from pipelines.capsule import extract_capsule
from reverse_etl.apply.capsule_changes import CapsuleChangeSender
from reverse_etl.apply.context import RunContext
from reverse_etl.apply.result import ApplyResult
from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.capsule_parties import CapsuleChange
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset
from tests.reverse_etl.conftest import fast_capsule_pacer
from transform.sql import build
from transform.stages import sql_params

PARTIES = "/api/v2/parties"
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CONTACT = "7a1e5b2c-0000-4000-8000-0000000000aa"


@pytest.fixture
def back(settings: Settings, capsule_world: Dataset) -> Iterator[CapsuleWriteBack]:
    with CapsuleWriteBack(settings, pacer=fast_capsule_pacer()) as client:
        yield client


@pytest.fixture
def ledger(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        ensure_ledger(con)
        yield con


def context(con: duckdb.DuckDBPyConnection, back: CapsuleWriteBack) -> RunContext:
    return RunContext(
        con=con,
        plan_id=1,
        ops=[],
        writer=cast(XeroContactWriter, None),  # the Capsule stage never writes to Xero
        capsule=back,
        rules=Rules(),
        now=lambda: NOW,
        result=ApplyResult(1),
    )


def change(operation: str, party_id: int | None, seq: int = 1, **values: Any) -> CapsuleChange:
    after: dict[str, str | None] = values.pop("after", {})
    return CapsuleChange(
        plan_id=1,
        seq=seq,
        operation=operation,
        party_id=party_id,
        contact_id=values.pop("contact_id", CONTACT),
        party_type=values.pop("party_type", "organisation"),
        changed_fields=tuple(values.pop("changed_fields", tuple(after))),
        after=after,
        before=None,
        row_ids=values.pop("row_ids", {}),
        tag_name=values.pop("tag_name", None),
        tag_id=None,
        base=values.pop("base", None),
        reason=None,
    )


def org(ctl: CapsuleControl, **fields: Any) -> dict[str, Any]:
    return ctl.create_party(
        {"type": "organisation", "name": f"Pull Stage {uuid.uuid4().hex[:8]} Pty Ltd", **fields}
    )


def rows(con: duckdb.DuckDBPyConnection, query: str, *params: Any) -> list[dict[str, Any]]:
    result = con.execute(query, list(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def stage(con: duckdb.DuckDBPyConnection, party_id: int, updated_at: datetime) -> None:
    """The party's updatedAt as staging.capsule_parties holds it when the plan is made."""
    con.execute("create schema if not exists staging")
    con.execute(
        "create table if not exists staging.capsule_parties (party_id bigint, updated_at timestamptz)"
    )
    con.execute("insert into staging.capsule_parties values (?, ?)", [party_id, updated_at])


def pull_a_phone(con: duckdb.DuckDBPyConnection, back: CapsuleWriteBack, party_id: int) -> None:
    """One run that adds Xero's DEFAULT phone to a party that has none."""
    pull = change(
        "update", party_id, after={"phone_default": "+61290001234"}, row_ids={"phone_default": None}
    )
    CapsuleChangeSender(context(con, back)).run([pull])


def writes(ctl: CapsuleControl, since: int, method: str) -> list[dict[str, Any]]:
    return [c for c in ctl.calls("capsule", since) if c["method"] == method and c["path"].startswith(PARTIES)]


def test_an_update_is_recorded_with_capsules_stamps_and_becomes_the_base_of_the_next_diff(
    back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, ctl: CapsuleControl
) -> None:
    party = org(ctl, emailAddresses=[{"type": "Work", "address": "old@acme.com.au"}])
    (email,) = party["emailAddresses"]
    staged_at = datetime.fromisoformat(party["updatedAt"].replace("Z", "+00:00"))
    stage(ledger, party["id"], staged_at)
    base = {"name": party["name"], "email_address": "new@acme.com.au", "contact_number": f"CAP-{party['id']}"}
    sender = CapsuleChangeSender(context(ledger, back))
    result = sender.run(
        [
            change(
                "update",
                party["id"],
                after={"email_address": "new@acme.com.au"},
                row_ids={"email_address": email["id"]},
                base=base,
            )
        ]
    )
    assert (result.done, result.failed, result.unknown) == (1, 0, 0)
    now = ctl.get_party(party["id"])
    assert now is not None and [e["address"] for e in now["emailAddresses"]] == ["new@acme.com.au"]
    (written,) = rows(ledger, "select * from ledger.capsule_writes")
    assert written["party_id"] == party["id"] and json.loads(written["fields"]) == {
        "email_address": "new@acme.com.au"
    }
    assert written["capsule_updated_before"] == staged_at
    assert written["capsule_updated_after"] == datetime.fromisoformat(now["updatedAt"].replace("Z", "+00:00"))
    (base_row,) = rows(ledger, "select * from ledger.written_contacts")
    assert base_row["contact_id"] == CONTACT and base_row["email_address"] == "new@acme.com.au"
    assert base_row["contact_number"] == f"CAP-{party['id']}" and base_row["party_id"] == party["id"]
    assert rows(ledger, "select status from ledger.capsule_outcomes") == [{"status": "done"}]
    assert rows(ledger, "select * from ledger.capsule_outbox") == []


def test_a_later_write_with_no_edit_between_keeps_the_stamp_from_before_this_tools_first_write(
    back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, ctl: CapsuleControl, sandbox: Sandbox
) -> None:
    party = org(ctl)
    staged_at = datetime.fromisoformat(party["updatedAt"].replace("Z", "+00:00"))
    stage(ledger, party["id"], staged_at)
    sandbox.clock.advance(5)
    pull_a_phone(ledger, back, party["id"])
    (first,) = rows(ledger, "select capsule_updated_after from ledger.capsule_writes")
    assert first["capsule_updated_after"] > staged_at
    # The next run stages the party as this tool's write left it, and pulls again.
    ledger.execute("update staging.capsule_parties set updated_at = ?", [first["capsule_updated_after"]])
    sandbox.clock.advance(5)
    tag = change("tag", party["id"], changed_fields=("tags",), tag_name="Archived in Xero")
    CapsuleChangeSender(context(ledger, back)).run([replace(tag, plan_id=2)])
    (written,) = rows(ledger, "select * from ledger.capsule_writes")
    assert written["operation"] == "tag" and written["capsule_updated_before"] == staged_at
    assert written["capsule_updated_after"] > first["capsule_updated_after"]
    assert json.loads(written["fields"]) == {"phone_default": "+61290001234", "tags": "Archived in Xero"}


def test_a_write_after_somebodys_edit_starts_from_that_edits_stamp(
    back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, ctl: CapsuleControl, sandbox: Sandbox
) -> None:
    party = org(ctl)
    pull_a_phone(ledger, back, party["id"])
    sandbox.clock.advance(5)
    edited = ctl.update_party(party["id"], {"about": "edited in Capsule"})
    edited_at = datetime.fromisoformat(edited["updatedAt"].replace("Z", "+00:00"))
    stage(ledger, party["id"], edited_at)
    tag = change("tag", party["id"], changed_fields=("tags",), tag_name="Archived in Xero")
    CapsuleChangeSender(context(ledger, back)).run([replace(tag, plan_id=2)])
    (written,) = rows(ledger, "select * from ledger.capsule_writes")
    assert written["capsule_updated_before"] == edited_at and json.loads(written["fields"]) == {
        "tags": "Archived in Xero"
    }


def test_a_refusal_lands_in_the_capsule_error_queue_with_capsules_message(
    back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, ctl: CapsuleControl
) -> None:
    party = org(ctl)
    bad = json.dumps(
        {"lines": ["1 Rue"], "city": "Paris", "region": None, "postal_code": "75001", "country": "Narnia"}
    )
    ctx = context(ledger, back)
    result = CapsuleChangeSender(ctx).run([change("update", party["id"], after={"street_address": bad})])
    assert (result.done, result.failed) == (0, 1)
    (failed,) = rows(ledger, "select status, message, party_id from ledger.capsule_outcomes")
    assert failed["status"] == "failed" and failed["party_id"] == party["id"]
    assert "422" in failed["message"] and "Narnia is not a valid country" in failed["message"]
    assert any("Narnia is not a valid country" in p for p in ctx.result.problems)
    assert rows(ledger, "select * from ledger.capsule_outbox") == []


def test_a_dropped_answer_to_a_row_adding_put_is_read_back_and_the_row_is_not_added_twice(
    back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, ctl: CapsuleControl
) -> None:
    party = org(ctl, phoneNumbers=[{"type": "Work", "number": "02 9000 0000"}])
    adding = change(
        "update", party["id"], after={"phone_mobile": "+61412345678"}, row_ids={"phone_mobile": None}
    )
    ctl.add_fault("capsule", "PUT", f"{PARTIES}/{party['id']}", times=1, drop=1.0)
    first = CapsuleChangeSender(context(ledger, back)).run([adding])
    assert (first.done, first.unknown) == (0, 1)
    assert rows(ledger, "select seq from ledger.capsule_outbox") == [{"seq": 1}]
    since = ctl.last_seq()
    nxt = CapsuleChangeSender(context(ledger, back))  # the next run: recovery first, then the same plan
    recovered = nxt.recover()
    again = nxt.run([adding])
    assert (recovered.recovered, again.done) == (1, 1)
    assert writes(ctl, since, "PUT") == []  # read back, never sent again
    now = ctl.get_party(party["id"])
    assert now is not None and [p["number"] for p in now["phoneNumbers"]] == ["02 9000 0000", "+61412345678"]
    assert rows(ledger, "select status from ledger.capsule_outcomes") == [{"status": "done"}]


def test_a_dropped_answer_to_a_create_finds_the_party_by_its_link_and_makes_no_second_one(
    back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, ctl: CapsuleControl
) -> None:
    create = change("create", None, after={"name": "Only Once Pty Ltd", "email_address": "a@onlyonce.com.au"})
    ctl.add_fault("capsule", "POST", PARTIES, times=1, drop=1.0)
    first = CapsuleChangeSender(context(ledger, back)).run([create])
    assert first.unknown == 1 and first.created == {}
    since = ctl.last_seq()
    recovered = CapsuleChangeSender(context(ledger, back)).recover()
    assert writes(ctl, since, "POST") == []
    (made,) = [p for p in ctl.calls("capsule") if p["method"] == "POST" and p["path"] == PARTIES]
    assert recovered.recovered == 1 and set(recovered.created) == {CONTACT}
    party = ctl.get_party(recovered.created[CONTACT])
    assert party is not None and party["name"] == "Only Once Pty Ltd"
    (outcome,) = rows(ledger, "select status, party_id_created from ledger.capsule_outcomes")
    assert outcome == {"status": "done", "party_id_created": recovered.created[CONTACT]}
    assert made["status"] == 201


def test_a_create_that_did_not_land_is_sent_again_by_the_next_run_once(
    back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, ctl: CapsuleControl
) -> None:
    create = change("create", None, after={"name": "Second Try Pty Ltd"})
    ctl.add_fault("capsule", "POST", PARTIES, times=1, **{"503": 1.0})  # refused before it was made
    first = CapsuleChangeSender(context(ledger, back)).run([create])
    assert first.unknown == 1  # a POST is never repeated blind: Capsule may have made it
    recovered = CapsuleChangeSender(context(ledger, back)).recover()
    assert recovered.done == 1 and recovered.recovered == 0
    posts = [c["status"] for c in ctl.calls("capsule") if c["method"] == "POST" and c["path"] == PARTIES]
    assert posts == [503, 201]


def test_a_429_waits_for_capsules_reset_and_the_write_then_lands(
    back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, ctl: CapsuleControl
) -> None:
    party = org(ctl)
    ctl.set_rate_limit(window_seconds=2)  # X-RateLimit-Reset at most 2 s away
    ctl.add_fault("capsule", "PUT", f"{PARTIES}/{party['id']}", times=1, **{"429": 1.0})
    since = ctl.last_seq()
    result = CapsuleChangeSender(context(ledger, back)).run(
        [change("update", party["id"], after={"tax_number": "51824753556"})]
    )
    assert result.done == 1 and back.pacer.waited > 0
    assert [c["status"] for c in writes(ctl, since, "PUT")] == [429, 200]


def test_capsules_hourly_limit_stops_the_stage_and_the_next_run_sends_the_rest_once(
    back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, ctl: CapsuleControl, sandbox: Sandbox
) -> None:
    made = [org(ctl) for _ in range(3)]
    changes = [
        change("tag", p["id"], seq=n, changed_fields=("tags",), tag_name="Archived in Xero")
        for n, p in enumerate(made, start=1)
    ]
    now = sandbox.clock.timestamp()
    sandbox.clock.advance(3600 - now % 3600 + 10)  # 10 s into a fresh hour: the reset is ~an hour away
    ctl.set_rate_limit(limit=2, window_seconds=3600)  # two writes (a tag needs no definitions)
    pacer = fast_capsule_pacer(clock=sandbox.clock.timestamp)
    ctx = context(ledger, back)
    ctx.capsule.client.pacer = pacer
    first = CapsuleChangeSender(ctx).run(changes)
    assert (first.done, first.not_sent) == (2, 1) and first.stopped is not None
    assert "run again after that" in first.stopped
    assert rows(ledger, "select * from ledger.capsule_outbox") == []  # nothing is left unknown
    ctl.set_rate_limit(limit=4000)
    ctx.capsule.client.pacer = fast_capsule_pacer()
    second = CapsuleChangeSender(context(ledger, back)).run(changes)
    assert second.done == 1
    for party in made:
        now = ctl.get_party(party["id"])
        assert now is not None and [t["name"] for t in now["tags"]] == ["Archived in Xero"]


def test_values_written_to_capsule_read_back_through_extract_and_staging_as_the_canonical_after(
    settings: Settings, back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, ctl: CapsuleControl
) -> None:
    party = org(ctl, phoneNumbers=[{"type": "Work", "number": "(02) 9000 0000"}])
    (work,) = party["phoneNumbers"]
    after = {
        "email_address": "accounts@pull.com.au",
        "phone_default": "+61298765432",
        "phone_mobile": "+61412345678",
        "phone_fax": "+61298765433",
        "tax_number": "51824753556",
        "website": "https://www.pull.com.au",
        "street_address": json.dumps(
            {
                "lines": ["Level 3", "10 Pitt St"],
                "city": "Sydney",
                "region": "NSW",
                "postal_code": "2000",
                "country": "Australia",
            },
            separators=(",", ":"),
        ),
        "postal_address": json.dumps(
            {
                "lines": ["PO Box 7"],
                "city": "Perth",
                "region": "WA",
                "postal_code": "6000",
                "country": "Australia",
            },
            separators=(",", ":"),
        ),
    }
    result = CapsuleChangeSender(context(ledger, back)).run(
        [change("update", party["id"], after=after, row_ids={"phone_default": work["id"]})]
    )
    assert result.done == 1
    ledger.close()
    extract_capsule(settings, pacer=fast_capsule_pacer())
    with duckdb.connect(str(settings.duckdb_path)) as con:
        build(con, "staging", "capsule_parties", sql_params(Rules()))
        (staged,) = rows(
            con,
            """
            select email as email_address, phone_default, phone_mobile, phone_fax, abn as tax_number, website,
                cx_address_json(street_lines, street_city, street_region, street_postal_code, street_country)
                    as street_address,
                cx_address_json(postal_lines, postal_city, postal_region, postal_postal_code, postal_country)
                    as postal_address
            from staging.capsule_parties where party_id = ?
            """,
            party["id"],
        )
    assert staged == after


def test_a_change_that_cannot_be_written_as_asked_is_failed_with_the_reason(
    back: CapsuleWriteBack, ledger: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    ctx = context(ledger, back)
    ctx.rules = Rules.model_validate({"capsule": {"xero_contact_id_field": "No Such Field"}})
    result = CapsuleChangeSender(ctx).run([change("create", None, after={"name": "Never Made Pty Ltd"})])
    (outcome,) = rows(ledger, "select status, message from ledger.capsule_outcomes")
    assert result.failed == 1 and outcome["status"] == "failed" and "'No Such Field'" in outcome["message"]

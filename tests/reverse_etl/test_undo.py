"""Undoing an applied plan against the Xero stand-in: before values go back where Xero still holds what
the plan wrote; what someone changed since is kept and reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from capsule_xero.settings import Settings
from reverse_etl.undo import undo_plan
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from reverse_etl.writers.xero_holds import holds_value
from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.reverse_etl.conftest import fast_capsule_pacer, xero_calls
from tests.reverse_etl.plans_by_hand import (
    add_plan,
    archive,
    cli,
    command_env,
    create,
    load_parties,
    open_ledger,
    outcomes,
    query,
    run,
    update,
)


@pytest.fixture
def parties(server: SandboxServer, sandbox: Sandbox) -> list[int]:
    return load_parties(server, sandbox, 10)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_ledger(tmp_path / "undo.duckdb") as connection:
        yield connection


@pytest.fixture
def back(settings: Settings) -> Iterator[CapsuleWriteBack]:
    with CapsuleWriteBack(settings, pacer=fast_capsule_pacer()) as client:
        yield client


ADDRESS = '{"lines":["1 George St","Level 2"],"city":"Sydney","region":"NSW","postal_code":"2000","country":"Australia"}'


def test_undo_writes_back_the_before_values_xero_still_holds_and_reports_what_changed_since(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    edited, gone, kept_new = parties[:3]
    fresh = parties[3]
    a = xero.create_contact(
        Name="Old Name Pty Ltd", ContactNumber=f"CAP-{edited}", EmailAddress="old@a.com.au"
    )
    b = xero.create_contact(Name="Closing Down Pty Ltd", ContactNumber=f"CAP-{gone}")
    plan_id = add_plan(
        con,
        [
            create(fresh, street_address=ADDRESS, phone_mobile="+61412345678"),
            create(kept_new),
            update(
                edited,
                a,
                {
                    "name": "New Name Pty Ltd",
                    "email_address": "new@a.com.au",
                    "phone_default": "+61290000000",
                },
                before={"name": "Old Name Pty Ltd", "email_address": "old@a.com.au", "phone_default": None},
            ),
            archive(gone, b),
        ],
    )
    run(con, settings, plan_id, writer, back)
    ids = {seq: row["contact_id"] for seq, row in outcomes(con, plan_id).items()}
    xero.edit_contact(a["ContactID"], EmailAddress="someone@else.com.au")  # a person, after the plan
    xero.edit_contact(ids[2], Name="Now In Use Pty Ltd")

    since = control.last_seq()
    result = undo_plan(con, settings, plan_id, writer=writer)

    now = xero.contact(a["ContactID"])
    assert now["Name"] == "Old Name Pty Ltd"  # still the plan's: put back
    assert now["EmailAddress"] == "someone@else.com.au"  # changed since: kept
    assert not [p for p in now["Phones"] if p["PhoneType"] == "DEFAULT" and p["PhoneNumber"]]  # cleared again
    assert xero.contact(b["ContactID"])["ContactStatus"] == "ACTIVE"  # the archive undone
    assert xero.contact(ids[1])["ContactStatus"] == "ARCHIVED"  # created by the plan, untouched since
    assert xero.contact(ids[2])["ContactStatus"] == "ACTIVE"  # created, but in use since: kept
    assert result.archived == [ids[1]] and result.restored == [b["ContactID"]]
    kept = {(line.contact_id, line.field) for line in result.kept}
    assert (a["ContactID"], "email_address") in kept and (ids[2], "*") in kept
    assert any("changed since" in line.detail for line in result.kept)
    assert not result.failed
    writes = [c for c in xero_calls(control, since) if c["method"] in ("POST", "PUT")]
    assert len(writes) == 2  # the update and the restore in one POST, then the archive
    lookups = [c for c in xero_calls(control, since) if c["method"] == "GET"]
    assert len(lookups) == 1  # one read of the plan's four contacts

    undone = query(
        con,
        "select contact_id, field, before, after, reason from ledger.audit where is_undo order by contact_id, field",
    )
    assert {(r["contact_id"], r["field"], r["before"], r["after"]) for r in undone} == {
        (a["ContactID"], "name", "New Name Pty Ltd", "Old Name Pty Ltd"),
        (a["ContactID"], "phone_default", "+61290000000", None),
        (b["ContactID"], "contact_status", "ARCHIVED", "ACTIVE"),
        (ids[1], "contact_status", "ACTIVE", "ARCHIVED"),
    }
    assert {r["reason"] for r in undone} == {f"undo of plan {plan_id}"}

    # Undoing again takes nothing back twice.
    since = control.last_seq()
    again = undo_plan(con, settings, plan_id, writer=writer)
    assert again.already_undone == 4 and not again.reverted
    assert [c for c in xero_calls(control, since) if c["method"] in ("POST", "PUT")] == []


def test_undo_of_a_restore_takes_its_field_changes_back_then_archives_the_contact_again(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
) -> None:
    contact = xero.create_contact(
        Name="Back Again Pty Ltd", ContactNumber=f"CAP-{parties[0]}", EmailAddress="was@b.com.au"
    )
    xero.archive(contact["ContactID"])
    restore = {
        **update(parties[0], contact, {"email_address": "is@b.com.au"}),
        "operation": "restore",
    }
    plan_id = add_plan(con, [restore])
    applied = run(con, settings, plan_id, writer, back)
    assert applied.restored == 1
    result = undo_plan(con, settings, plan_id, writer=writer)
    now = xero.contact(contact["ContactID"])
    assert (now["ContactStatus"], now["EmailAddress"]) == ("ARCHIVED", "was@b.com.au")
    assert {line.field for line in result.reverted} == {"email_address", "contact_status"}


def test_a_value_counts_as_still_written_only_when_xero_shows_it_as_sent() -> None:
    contact = {
        "Name": "Acme Pty Ltd",
        "TaxNumber": "51 824 753 556",
        "EmailAddress": "Hello@Acme.com.au",
        "Phones": [
            {
                "PhoneType": "MOBILE",
                "PhoneNumber": "+61412345678",
                "PhoneAreaCode": "",
                "PhoneCountryCode": "",
            }
        ],
        "Addresses": [
            {
                "AddressType": "STREET",
                "AddressLine1": "1 George St",
                "AddressLine2": "Level 2",
                "AddressLine3": "",
                "AddressLine4": "",
                "City": "Sydney",
                "Region": "NSW",
                "PostalCode": "2000",
                "Country": "Australia",
            }
        ],
        "ContactPersons": [
            {
                "FirstName": "Ann",
                "LastName": "Lee",
                "EmailAddress": "ann@acme.com.au",
                "IncludeInEmails": False,
            }
        ],
        "ContactStatus": "ACTIVE",
    }
    assert holds_value(contact, "tax_number", "51824753556")
    assert holds_value(contact, "email_address", "hello@acme.com.au")
    assert holds_value(contact, "phone_mobile", "+61412345678")
    assert not holds_value(contact, "phone_mobile", "+61400000000")
    assert holds_value(contact, "phone_fax", None)
    assert holds_value(contact, "street_address", ADDRESS)
    assert not holds_value(contact, "street_address", ADDRESS.replace("Level 2", "Level 3"))
    assert holds_value(
        contact,
        "contact_persons",
        '[{"first_name":"Ann","last_name":"Lee","email_address":"ann@acme.com.au"}]',
    )
    assert not holds_value(contact, "contact_persons", "[]")
    assert holds_value(contact, "contact_status", "ACTIVE")
    assert not holds_value(contact, "name", "Acme Limited")


def test_the_undo_command_archives_what_the_plan_created_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
) -> None:
    command_env(monkeypatch, server, settings)
    with open_ledger(settings.duckdb_path) as ledger:
        plan_id = add_plan(ledger, [create(parties[0]), create(parties[1])])
        run(ledger, settings, plan_id, writer, back)
        created = [row["contact_id"] for row in outcomes(ledger, plan_id).values()]
    xero.edit_contact(created[1], Name="Renamed By A Person")
    result = CliRunner().invoke(cli(), ["undo", str(plan_id), "--yes"])
    assert result.exit_code == 0, result.output
    assert "1 contact(s) the plan created archived" in result.output
    assert "Changed since: kept" in result.output and created[1] in result.output
    assert [xero.contact(c)["ContactStatus"] for c in created] == ["ARCHIVED", "ACTIVE"]

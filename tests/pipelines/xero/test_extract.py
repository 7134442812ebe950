"""The Xero extractor against the sandbox: what lands in DuckDB, and which calls it takes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from capsule_xero.settings import Settings
from pipelines.xero import XeroRun, xero_pipeline
from pipelines.xero.records import xero_datetime
from sandbox.control import SandboxControl
from sandbox.generator import Dataset
from sandbox.xero.control import XeroControl
from tests.pipelines.xero.conftest import API, api_calls, query, token_refreshes

Extract = Callable[..., XeroRun]


def contact_rows(settings: Settings) -> dict[str, dict[str, Any]]:
    rows = query(
        settings,
        "select contact_id, name, contact_status, contact_number, email_address, updated_date_utc, "
        "is_customer, is_supplier, _dlt_load_id, _dlt_id from raw.xero_contacts",
    )
    keys = ("name", "status", "number", "email", "updated", "customer", "supplier", "load_id", "dlt_id")
    return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in rows}


def nested(settings: Settings, table: str, columns: str) -> dict[str, list[tuple[Any, ...]]]:
    rows = query(
        settings,
        f"select c.contact_id, {columns} from raw.{table} n join raw.xero_contacts c "  # noqa: S608 (test constants)
        "on n._dlt_parent_id = c._dlt_id order by c.contact_id, n._dlt_list_idx",
    )
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(tuple(row[1:]))
    return out


def latest_load(settings: Settings) -> str:
    return query(settings, "select max(load_id) from raw._dlt_loads")[0][0]


def test_a_full_load_matches_the_sandbox_contacts_one_for_one(
    extract: Extract, settings: Settings, dataset: Dataset, xero: XeroControl
) -> None:
    run = extract()
    assert run.modes["xero_contacts"] == "full read"
    truth = {c["ContactID"]: c for c in xero.contacts(include_archived=True)}
    assert any(c["ContactStatus"] == "ARCHIVED" for c in truth.values())
    loaded = contact_rows(settings)
    assert loaded.keys() == truth.keys()
    for cid, row in loaded.items():
        want = truth[cid]
        assert row["name"] == want["Name"]
        assert row["status"] == want["ContactStatus"]
        assert row["number"] == want.get("ContactNumber")
        assert row["email"] == want.get("EmailAddress")
        assert row["customer"] == want["IsCustomer"] and row["supplier"] == want["IsSupplier"]
        assert isinstance(row["updated"], datetime) and row["updated"].utcoffset() == timedelta(0)
        assert row["updated"] == xero_datetime(want["UpdatedDateUTC"])

    persons = nested(settings, "xero_contacts__contact_persons", "n.first_name, n.last_name, n.email_address")
    phones = nested(settings, "xero_contacts__phones", "n.phone_type, n.phone_number")
    addresses = nested(settings, "xero_contacts__addresses", "n.address_type, n.city, n.postal_code")
    groups = nested(settings, "xero_contacts__contact_groups", "n.contact_group_id")
    assert sum(1 for c in truth.values() if c.get("ContactPersons")) > 10
    for cid, want in truth.items():
        assert persons.get(cid, []) == [
            (p.get("FirstName"), p.get("LastName"), p.get("EmailAddress"))
            for p in want.get("ContactPersons", [])
        ]
        # Xero pads every answer with all four phone types and both address types; only the
        # ones with something in them are kept.
        assert phones.get(cid, []) == [
            (p["PhoneType"], p["PhoneNumber"])
            for p in want["Phones"]
            if any(v for k, v in p.items() if k != "PhoneType")
        ]
        assert addresses.get(cid, []) == [
            (a["AddressType"], a["City"], a["PostalCode"])
            for a in want["Addresses"]
            if any(v for k, v in a.items() if k != "AddressType")
        ]
        assert groups.get(cid, []) == [(g["ContactGroupID"],) for g in want.get("ContactGroups", [])]

    active_groups = {g["ContactGroupID"]: g["Name"] for g in xero.groups() if g["Status"] == "ACTIVE"}
    assert (
        dict(query(settings, "select contact_group_id, name from raw.xero_contact_groups")) == active_groups
    )
    assert query(settings, "select count(*) from raw.xero_users")[0][0] == len(dataset.xero_users)
    assert query(settings, "select count(*) from raw.xero_contacts__contact_groups")[0][0] == sum(
        len(g["ContactIDs"]) for g in dataset.xero_contact_groups if g["Status"] == "ACTIVE"
    )


def test_a_rerun_without_changes_makes_one_call_per_resource_and_no_token_refresh(
    extract: Extract, settings: Settings, dataset: Dataset, control: SandboxControl
) -> None:
    extract()
    before = contact_rows(settings)
    since = control.last_seq()
    run = extract()
    calls = api_calls(control, since)
    # contacts: one page with If-Modified-Since = the cursor; users: one call with its own
    # If-Modified-Since; groups: one call (the endpoint has no cursor to offer).
    assert [(c["method"], c["path"]) for c in calls] == [
        ("GET", f"{API}/Contacts"),
        ("GET", f"{API}/ContactGroups"),
        ("GET", f"{API}/Users"),
    ]
    assert "page=1" in calls[0]["query"] and "includeArchived=true" in calls[0]["query"]
    assert run.modes["xero_contacts"] == "incremental"
    assert control.calls("xero-identity", since) == []  # the access token is still valid: no refresh
    assert contact_rows(settings) == before  # nothing re-written (same load ids)


def test_after_edits_and_archives_in_xero_exactly_those_contacts_arrive(
    extract: Extract, settings: Settings, dataset: Dataset, xero: XeroControl, control: SandboxControl
) -> None:
    extract()
    active = [c for c in xero.contacts(include_archived=False)]
    edited = {c["ContactID"]: f"{c['Name']} (edited)" for c in active[:3]}
    archived = [c["ContactID"] for c in active[3:5] if not c.get("Balances")]
    control.set_clock(advance_seconds=5)  # a person edits a little later
    for cid, name in edited.items():
        xero.edit_contact(cid, Name=name)
    for cid in archived:
        xero.archive(cid)
    since = control.last_seq()
    run = extract()
    assert len([c for c in api_calls(control, since) if c["path"].endswith("/Contacts")]) == 1
    assert run.modes["xero_contacts"] == "incremental"
    rows = contact_rows(settings)
    last = latest_load(settings)
    new = {cid for cid, row in rows.items() if row["load_id"] == last}
    assert new == set(edited) | set(archived)
    assert {cid: rows[cid]["name"] for cid in edited} == edited
    assert {rows[cid]["status"] for cid in archived} == {"ARCHIVED"}
    assert len(rows) == len(dataset.xero_contacts)


def test_the_periodic_full_read_happens_when_due_and_brings_balance_changes(
    extract: Extract, settings: Settings, dataset: Dataset, xero: XeroControl, control: SandboxControl
) -> None:
    start = datetime.now(UTC)
    extract(now=lambda: start)
    cid = next(c["ContactID"] for c in xero.contacts() if c["ContactStatus"] == "ACTIVE")
    # Balances and IsCustomer change without moving UpdatedDateUTC (docs/api-facts.md#xero-reading-contacts): no cursor sees them.
    xero.edit_contact(
        cid,
        Balances={"AccountsReceivable": {"Outstanding": 1234.5, "Overdue": 100.25}},
        IsSupplier=True,
    )
    since = control.last_seq()
    run = extract(now=lambda: start + timedelta(days=6))
    assert run.modes["xero_contacts"] == "incremental"
    assert len([c for c in api_calls(control, since) if c["path"].endswith("/Contacts")]) == 1
    assert contact_rows(settings)[cid]["supplier"] is False

    since = control.last_seq()
    run = extract(now=lambda: start + timedelta(days=7, minutes=1), page_size=100)
    assert run.modes["xero_contacts"] == "full read"
    pages = [c for c in api_calls(control, since) if c["path"].endswith("/Contacts")]
    assert len(pages) == -(-len(dataset.xero_contacts) // 99)  # 100 a page, one record of overlap
    row = query(
        settings,
        "select is_supplier, balances__accounts_receivable__outstanding, balances__accounts_receivable__overdue "
        "from raw.xero_contacts where contact_id = ?",
        cid,
    )[0]
    assert row == (True, Decimal("1234.5"), Decimal("100.25"))

    # The next full read is due a week after this one, not after the first.
    assert extract(now=lambda: start + timedelta(days=13)).modes["xero_contacts"] == "incremental"
    # And on demand at any time.
    assert (
        extract(full_refresh=True, now=lambda: start + timedelta(days=13)).modes["xero_contacts"]
        == "full read"
    )


def test_cursors_survive_deleting_the_pipelines_folder(
    extract: Extract, settings: Settings, dataset: Dataset, xero: XeroControl, control: SandboxControl
) -> None:
    extract()
    folder = xero_pipeline(settings).working_dir
    assert str(folder).startswith(str(settings.home))
    shutil.rmtree(settings.home / "dlt")
    cid = xero.contacts()[0]["ContactID"]
    control.set_clock(advance_seconds=5)
    xero.edit_contact(cid, EmailAddress="accounts@restored.example.com.au")
    since = control.last_seq()
    run = extract()
    # dlt restored the state (cursors, last full read) from DuckDB: no full read, one page.
    assert run.modes["xero_contacts"] == "incremental"
    assert len([c for c in api_calls(control, since) if c["path"].endswith("/Contacts")]) == 1
    rows = contact_rows(settings)
    assert rows[cid]["email"] == "accounts@restored.example.com.au"
    last = latest_load(settings)
    assert {c for c, row in rows.items() if row["load_id"] == last} == {cid}


def test_a_contact_edited_while_the_read_pages_through_is_not_lost(
    extract: Extract, settings: Settings, dataset: Dataset, xero: XeroControl, control: SandboxControl
) -> None:
    oldest_first = sorted(xero.contacts(), key=lambda c: (xero_datetime(c["UpdatedDateUTC"]), c["ContactID"]))
    first_page = [c["ContactID"] for c in oldest_first][:3]  # as Xero pages them
    edits: list[str] = []

    def edit_during_read(table: str, page: int, records: int) -> None:
        # With plain page numbers this edit would move a contact from page 1 to the end and make
        # the first contact of page 3 slip to page 2, already read: lost until the next full read.
        if table == "xero_contacts" and page == 2 and not edits:
            control.set_clock(advance_seconds=2)
            for cid in first_page:
                xero.edit_contact(cid, AccountNumber=f"EDIT-{cid[:8]}")
                edits.append(cid)

    extract(page_size=50, on_page=edit_during_read)
    truth = {c["ContactID"]: c for c in xero.contacts()}
    rows = contact_rows(settings)
    assert rows.keys() == truth.keys()
    for cid in first_page:
        assert query(settings, "select account_number from raw.xero_contacts where contact_id = ?", cid) == [
            (f"EDIT-{cid[:8]}",)
        ]


def test_deleted_contact_groups_are_written_once_more_as_deleted(
    extract: Extract, settings: Settings, dataset: Dataset, tenant: str, auth: Any
) -> None:
    import httpx

    extract()
    group = dataset.xero_contact_groups[0]["ContactGroupID"]
    with httpx.Client(
        base_url=settings.xero_api_url, headers=auth.headers() | {"Accept": "application/json"}
    ) as http:
        assert http.post(f"/ContactGroups/{group}", json={"Status": "DELETED"}).status_code == 200
    extract()
    assert query(
        settings, "select status from raw.xero_contact_groups where contact_group_id = ?", group
    ) == [("DELETED",)]


def test_no_refresh_when_the_stored_token_is_valid_and_one_when_xero_says_it_expired_mid_run(
    extract: Extract, settings: Settings, dataset: Dataset, control: SandboxControl
) -> None:
    def expire_after_first_page(table: str, page: int, records: int) -> None:
        if table == "xero_contacts" and page == 1:
            control.set_clock(advance_seconds=31 * 60)  # Xero's clock: the token is now 31 min old

    since = control.last_seq()
    extract(page_size=100, on_page=expire_after_first_page)
    assert len(token_refreshes(control, since)) == 1
    statuses = [c["status"] for c in api_calls(control, since)]
    assert statuses.count(401) == 1 and statuses[-1] == 200
    assert query(settings, "select count(*) from raw.xero_contacts")[0][0] == len(dataset.xero_contacts)

"""Xero's official Python SDK (xero-python 15.2.0), a client nobody here wrote, against the stand-in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from xero_python.accounting import (
    AccountingApi,
    Contact,
    ContactGroup,
    ContactGroups,
    ContactPerson,
    Contacts,
    HistoryRecord,
    HistoryRecords,
    Phone,
)
from xero_python.api_client import ApiClient
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.exceptions import AccountingBadRequestException, NotFoundException, RateLimitException

from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.support.xero_sdk import sdk_configuration


@pytest.fixture
def sdk(server: SandboxServer, token: str) -> Iterator[AccountingApi]:
    """``AccountingApi`` pointed at the stand-in, holding an access token issued by it."""
    stored = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 1800,
        "expires_at": time.time() + 1800,
        "scope": ["accounting.contacts", "accounting.settings.read"],
    }
    oauth2 = OAuth2Token(client_id="sandbox-client", client_secret="not-used-without-refresh")
    client = ApiClient(
        sdk_configuration(oauth2),
        oauth2_token_getter=lambda: stored,
        oauth2_token_saver=stored.update,
    )
    yield AccountingApi(client, base_url=server.xero_url + "/api.xro/2.0")


def test_the_sdk_creates_lists_updates_and_archives_contacts(sdk: AccountingApi, tenant_id: str) -> None:
    new = Contact(
        name="Harbourside Plumbing Pty Ltd",
        email_address="jo@harbourside.com.au",
        contact_number="CAP-1",
        phones=[Phone(phone_type="MOBILE", phone_number="0400 000 000")],
        contact_persons=[
            ContactPerson(first_name="Sam", last_name="Lee", email_address="sam@harbourside.com.au")
        ],
    )
    created = sdk.create_contacts(tenant_id, Contacts(contacts=[new]), summarize_errors=False)
    contact = created.contacts[0]
    assert contact.status_attribute_string == "OK" and contact.contact_id
    assert contact.updated_date_utc.tzinfo is not None

    page = sdk.get_contacts(tenant_id, page=1, include_archived=True)
    assert page.pagination.item_count == 1 and page.contacts[0].name == "Harbourside Plumbing Pty Ltd"
    assert page.contacts[0].contact_persons[0].first_name == "Sam"
    assert [str(p.phone_type) for p in page.contacts[0].phones] == ["DDI", "DEFAULT", "FAX", "MOBILE"]

    updated = sdk.update_contact(
        tenant_id, contact.contact_id, Contacts(contacts=[Contact(email_address="ops@harbourside.com.au")])
    )
    assert updated.contacts[0].email_address == "ops@harbourside.com.au"
    assert updated.contacts[0].name == "Harbourside Plumbing Pty Ltd"

    archived = sdk.update_contact(
        tenant_id, contact.contact_id, Contacts(contacts=[Contact(contact_status="ARCHIVED")])
    )
    assert archived.contacts[0].contact_status == "ARCHIVED"
    assert sdk.get_contacts(tenant_id, page=1).contacts == []
    assert len(sdk.get_contacts(tenant_id, page=1, include_archived=True).contacts) == 1
    assert sdk.get_contact(tenant_id, contact.contact_id).contacts[0].contact_status == "ARCHIVED"


def test_the_sdk_reads_with_filters_and_if_modified_since(
    sdk: AccountingApi, tenant_id: str, sandbox: Sandbox
) -> None:
    sdk.create_contacts(tenant_id, Contacts(contacts=[Contact(name="Early")]))
    sandbox.clock.advance(10)
    cursor = sandbox.clock.now()
    sandbox.clock.advance(10)
    late = sdk.create_contacts(tenant_id, Contacts(contacts=[Contact(name="Late", contact_number="L-1")]))
    since = sdk.get_contacts(tenant_id, if_modified_since=cursor)
    assert [c.name for c in since.contacts] == ["Late"]
    by_where = sdk.get_contacts(tenant_id, where='ContactNumber=="L-1"', order="Name DESC")
    assert [c.name for c in by_where.contacts] == ["Late"]
    by_ids = sdk.get_contacts(tenant_id, i_ds=[late.contacts[0].contact_id], summary_only=True)
    assert [c.name for c in by_ids.contacts] == ["Late"]
    assert [c.name for c in sdk.get_contacts(tenant_id, search_term="ear").contacts] == ["Early"]
    assert sdk.get_contact_by_contact_number(tenant_id, "L-1").contacts[0].name == "Late"


def test_the_sdk_sees_validation_errors_not_found_and_rate_limits(
    sdk: AccountingApi, tenant_id: str, xero_control: XeroControl
) -> None:
    sdk.create_contacts(tenant_id, Contacts(contacts=[Contact(name="Taken")]))
    with pytest.raises(AccountingBadRequestException) as bad:
        sdk.create_contacts(tenant_id, Contacts(contacts=[Contact(name="Taken")]))
    assert "already assigned to another contact" in bad.value.reason
    assert bad.value.error_data["Type"] == "ValidationException"
    mixed = sdk.create_contacts(
        tenant_id, Contacts(contacts=[Contact(name="Taken"), Contact(name="Fresh")]), summarize_errors=False
    )
    assert [c.status_attribute_string for c in mixed.contacts] == ["ERROR", "OK"]
    assert mixed.contacts[0].validation_errors[0].message.startswith("The contact name Taken")
    with pytest.raises(NotFoundException):
        sdk.get_contact(tenant_id, "00000000-0000-0000-0000-000000000001")
    xero_control.set_limits(tenant_id, minute=0)
    # POST: urllib3 does not retry it, so the 429 reaches the caller as the SDK's exception.
    with pytest.raises(RateLimitException) as limited:
        sdk.update_or_create_contacts(tenant_id, Contacts(contacts=[Contact(name="Later")]))
    assert limited.value.rate_limit == "minute"


def test_the_sdk_waits_out_retry_after_on_reads(
    sdk: AccountingApi, tenant_id: str, sandbox: Sandbox, control: SandboxControl
) -> None:
    # urllib3 under the SDK sleeps Retry-After on a 429 for GETs and tries again.
    sandbox.clock.set_speed(60)  # the injected minute-429 then says Retry-After: 1
    control.add_fault("xero", "GET", "/api.xro/2.0/Contacts", times=1, **{"429": 1.0})
    started = time.monotonic()
    assert sdk.get_contacts(tenant_id).contacts == []
    assert time.monotonic() - started >= 0.9
    assert [r.status for r in sandbox.calls.records("xero")] == [429, 200]


def test_the_sdk_reads_and_writes_history_groups_and_users(sdk: AccountingApi, tenant_id: str) -> None:
    contact = sdk.create_contacts(tenant_id, Contacts(contacts=[Contact(name="Noted")])).contacts[0]
    notes = HistoryRecords(history_records=[HistoryRecord(details="Opportunity won: $12,000")])
    added = sdk.create_contact_history(tenant_id, contact.contact_id, notes)
    assert added.history_records[0].details == "Opportunity won: $12,000"
    history = sdk.get_contact_history(tenant_id, contact.contact_id).history_records
    assert [h.changes for h in history] == ["Created", "Note"] and history[1].user == "System Generated"
    assert history[1].date_utc > datetime.now(UTC) - timedelta(days=365 * 5)

    group = sdk.create_contact_group(tenant_id, ContactGroups(contact_groups=[ContactGroup(name="VIP")]))
    group_id = group.contact_groups[0].contact_group_id
    sdk.create_contact_group_contacts(
        tenant_id, group_id, Contacts(contacts=[Contact(contact_id=contact.contact_id)])
    )
    fetched = sdk.get_contact_group(tenant_id, group_id).contact_groups[0]
    assert [c.name for c in fetched.contacts] == ["Noted"]
    assert [g.name for g in sdk.get_contact_groups(tenant_id).contact_groups] == ["VIP"]
    assert sdk.get_contact(tenant_id, contact.contact_id).contacts[0].contact_groups[0].name == "VIP"
    sdk.delete_contact_group_contact(tenant_id, group_id, contact.contact_id)
    assert sdk.get_contact_group(tenant_id, group_id).contact_groups[0].contacts == []

    users = sdk.get_users(tenant_id).users
    assert len(users) == 1 and users[0].is_subscriber is True

"""wire.py, ratelimit.py and idempotency.py on their own (no server)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from sandbox.clock import SandboxClock
from sandbox.xero.idempotency import IdempotencyStore, StoredResponse, fingerprint
from sandbox.xero.ratelimit import RateLimiter
from sandbox.xero.wire import WireDate, envelope, ms_date, to_json, to_xml

AT = datetime(2019, 2, 23, 5, 23, 20, 362000, tzinfo=UTC)


def test_dates_are_dotnet_milliseconds_with_and_without_offset() -> None:
    assert ms_date(AT) == "/Date(1550899400362+0000)/"
    assert ms_date(AT, offset=False) == "/Date(1550899400362)/"
    body = to_json({"A": WireDate(AT), "B": WireDate(AT, offset=False), "C": "ends with )/"})
    assert (
        body == b'{"A":"\\/Date(1550899400362+0000)\\/","B":"\\/Date(1550899400362)\\/","C":"ends with )\\/"}'
    )
    assert json.loads(body)["C"] == "ends with )/"  # escaping never changes a decoded value


def test_none_values_are_never_emitted() -> None:
    assert json.loads(to_json({"A": None, "B": [{"C": None, "D": 1}]})) == {"B": [{"D": 1}]}


def test_envelope_adds_pagination_and_warnings_only_when_given() -> None:
    plain = envelope("Contacts", [], now=AT, provider="App", pagination=None, Warnings=[])
    assert list(plain) == ["Id", "Status", "ProviderName", "DateTimeUTC", "Contacts"]
    paged = envelope("Contacts", [], now=AT, provider="App", pagination={"page": 1})
    assert paged["pagination"] == {"page": 1}


def test_xml_names_list_items_in_the_singular_and_escapes_text() -> None:
    payload = {
        "Status": "OK",
        "Contacts": [
            {
                "Name": "A & <B>",
                "IsSupplier": False,
                "Addresses": [{"City": "Perth"}],
                "UpdatedDateUTC": WireDate(AT),
            }
        ],
        "Elements": [{"ValidationErrors": [{"Message": "bad"}]}],
    }
    root = ET.fromstring(to_xml(payload))  # noqa: S314 - our own output
    assert root.find("Contacts/Contact/Name").text == "A & <B>"
    assert root.find("Contacts/Contact/IsSupplier").text == "false"
    assert root.find("Contacts/Contact/Addresses/Address/City").text == "Perth"
    assert root.find("Contacts/Contact/UpdatedDateUTC").text == "2019-02-23T05:23:20.362"
    assert root.find("Elements/DataContractBase/ValidationErrors/ValidationError/Message").text == "bad"


def test_rate_windows_are_fixed_and_keep_their_phase() -> None:
    clock = SandboxClock(start=AT)
    limiter = RateLimiter(clock)
    limiter.set_limits("t", minute=2)
    assert limiter.check("app", "t", 1).problem is None
    clock.advance(30)
    assert limiter.check("app", "t", 1).problem is None
    refused = limiter.check("app", "t", 1)
    assert refused.problem == "minute" and 29.9 < (refused.retry_after_sandbox_seconds or 0) <= 30
    clock.advance(30)  # the window opened at the first call: it turns 60 s later, not 60 s after the last
    assert limiter.check("app", "t", 1).problem is None
    clock.advance(95)  # two windows later, same phase
    decision = limiter.check("app", "t", 1)
    assert decision.problem is None and decision.headers["X-MinLimit-Remaining"] == "1"
    assert limiter.check("app", "t", 6).problem == "concurrent"


def test_idempotency_entries_expire_six_minutes_after_first_use() -> None:
    clock = SandboxClock(start=AT)
    store = IdempotencyStore(clock)
    print_ = fingerprint("PUT", "/api.xro/2.0/Contacts", "t", b"{}")
    assert store.lookup("app", "k", print_).outcome == "new"
    store.store("app", "k", StoredResponse(200, b"ok"))
    clock.advance(359)
    assert store.lookup("app", "k", print_).outcome == "replay"
    assert (
        store.lookup("app", "k", fingerprint("PUT", "/api.xro/2.0/Contacts", "t", b"[]")).outcome
        == "conflict"
    )
    assert store.lookup("other-app", "k", print_).outcome == "new"
    clock.advance(1)
    assert store.lookup("app", "k", print_).outcome == "new"

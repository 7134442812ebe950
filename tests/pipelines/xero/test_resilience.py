"""Calling politely and surviving a bad day: 429s, 5xx, hangs, drops, expiring tokens, limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, XeroHttpxAuth
from capsule_xero.xero.transports import PacedTransport, pacer_for
from pipelines.xero import XeroRun
from sandbox.control import SandboxControl
from sandbox.generator import Dataset
from sandbox.xero.control import XeroControl
from tests.pipelines.xero.conftest import API, QUICK, api_calls, query, token_refreshes

Extract = Callable[..., XeroRun]
CONTACTS = f"{API}/Contacts"


def contacts_loaded(settings: Settings) -> int:
    return query(settings, "select count(*) from raw.xero_contacts")[0][0]


def test_a_429_storm_is_waited_out_honouring_retry_after(
    extract: Extract,
    settings: Settings,
    dataset: Dataset,
    control: SandboxControl,
    xero: XeroControl,
    tenant: str,
) -> None:
    control.set_clock(speed=60)  # a Xero minute lasts one real second
    xero.set_limits(tenant, minute=3)  # and allows 3 calls
    control.add_fault("xero", "GET", CONTACTS, times=2, **{"429": 1.0})  # plus two 429s out of the blue
    since = control.last_seq()
    extract(page_size=100)
    assert contacts_loaded(settings) == len(dataset.xero_contacts)
    calls = api_calls(control, since)
    refused = [i for i, c in enumerate(calls) if c["status"] == 429]
    assert len(refused) >= 3
    # Every 429 said Retry-After: 1 (s); nobody called again before that second was over.
    for i in refused:
        if i + 1 < len(calls):
            assert calls[i + 1]["started"] - calls[i]["started"] >= 0.95
    # Waiting, not hammering: at most one refused call per window the run needed, plus the two injected.
    windows = -(-sum(1 for c in calls if c["status"] == 200) // 3)
    assert len(refused) <= windows + 2


def test_5xx_a_hang_past_the_timeout_and_dropped_connections_are_retried(
    extract: Extract, settings: Settings, dataset: Dataset, control: SandboxControl
) -> None:
    for kind in ("500", "503", "hang", "drop"):
        control.add_fault("xero", "GET", CONTACTS, times=1, hang_seconds=2.0, **{kind: 1.0})
    control.add_fault("xero", "GET", f"{API}/Users", times=1, drop=1.0)
    control.add_fault("xero", "GET", f"{API}/ContactGroups", times=1, **{"503": 1.0})
    since = control.last_seq()
    extract(page_size=100)
    assert contacts_loaded(settings) == len(dataset.xero_contacts)
    assert query(settings, "select count(*) from raw.xero_users")[0][0] == len(dataset.xero_users)
    stats = control.stats("xero", since)
    assert stats["faults"] == {"500": 1, "503": 2, "hang": 1, "drop": 2}
    pages = -(-len(dataset.xero_contacts) // 99)
    assert sum(1 for c in api_calls(control, since) if c["path"] == CONTACTS) == pages + 4


def test_an_access_token_expiring_locally_mid_run_is_refreshed_before_the_next_call(
    extract: Extract, settings: Settings, dataset: Dataset, control: SandboxControl, auth: XeroAuth
) -> None:
    def expire_after_first_page(table: str, page: int, records: int) -> None:
        if table == "xero_contacts" and page == 1:
            tokens = auth.store.load()
            tokens.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            auth.store.save(tokens)

    since = control.last_seq()
    extract(page_size=100, on_page=expire_after_first_page)
    assert len(token_refreshes(control, since)) == 1
    assert all(c["status"] == 200 for c in api_calls(control, since))  # refreshed before Xero could say 401
    assert contacts_loaded(settings) == len(dataset.xero_contacts)


def test_never_more_than_five_calls_in_flight_for_the_extractor_and_an_httpx_writer_together(
    extract: Extract,
    settings: Settings,
    dataset: Dataset,
    control: SandboxControl,
    auth: XeroAuth,
    tenant: str,
) -> None:
    # Every call takes 0.2 s, so eight eager httpx threads and the extractor pile up.
    control.add_fault("xero", "GET", f"{API}/*", hang_seconds=0.2, hang=1.0)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with httpx.Client(
                base_url=settings.xero_api_url,
                transport=PacedTransport(policy=QUICK),
                auth=XeroHttpxAuth(auth),
                headers={"Accept": "application/json"},
            ) as http:
                for _ in range(3):
                    assert http.get("/Users").status_code == 200
        except BaseException as exc:  # reported below
            errors.append(exc)

    since = control.last_seq()
    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    extract(page_size=100)
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert contacts_loaded(settings) == len(dataset.xero_contacts)
    stats = control.stats("xero", since)
    assert stats["peak_concurrency"][f"xero:{tenant}"] == 5  # the limit, reached and never passed
    assert stats["served_429"] == 0
    assert pacer_for(settings.xero_api_url, tenant).stats.peak_in_flight == 5


def test_never_over_the_minute_limit(
    extract: Extract,
    settings: Settings,
    dataset: Dataset,
    control: SandboxControl,
    xero: XeroControl,
    tenant: str,
) -> None:
    control.set_clock(speed=60)  # a Xero minute lasts one real second ...
    xero.set_limits(tenant, minute=10)  # ... and allows 10 calls; the pacer knows both
    pacing = replace(QUICK, calls_per_minute=10, minute_seconds=1.0)
    since = control.last_seq()
    extract(page_size=15, pacing=pacing)
    assert contacts_loaded(settings) == len(dataset.xero_contacts)
    calls = api_calls(control, since)
    assert len(calls) >= 20  # two Xero minutes' worth
    assert control.stats("xero", since)["served_429"] == 0
    starts = [c["started"] for c in calls]
    assert all(sum(1 for t in starts if s <= t < s + 1.0) <= 10 for s in starts)


def test_a_write_is_resent_after_a_lost_answer_only_when_it_carries_an_idempotency_key(
    settings: Settings, control: SandboxControl, auth: XeroAuth, xero: XeroControl
) -> None:
    """Xero replays a keyed request for 6 minutes; a keyless one resent could create a duplicate."""
    control.add_fault("xero", "PUT", f"{API}/Contacts", times=2, drop=1.0)
    with httpx.Client(
        base_url=settings.xero_api_url,
        transport=PacedTransport(policy=QUICK),
        auth=XeroHttpxAuth(auth),
        headers={"Accept": "application/json"},
    ) as http:
        with pytest.raises(httpx.TransportError):
            http.put("/Contacts", json={"Contacts": [{"Name": "Keyless Pty Ltd"}]})
        keyed = http.put(
            "/Contacts",
            json={"Contacts": [{"Name": "Keyed Pty Ltd"}]},
            headers={"Idempotency-Key": "batch-1-try-1"},
        )
    assert keyed.status_code == 200
    names = [c["Name"] for c in xero.contacts()]
    assert names.count("Keyless Pty Ltd") == 1  # applied once, never resent
    assert names.count("Keyed Pty Ltd") == 1  # resent after the drop, replayed by Xero, not duplicated

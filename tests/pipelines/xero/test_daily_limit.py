"""Xero's daily limit: reads stop before the reserve kept for writes, say when to continue, and resume."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from pipelines.xero import DailyLimitReached, XeroRun, reset_pacers, run_xero_extract
from sandbox.control import SandboxControl
from sandbox.generator import Dataset
from sandbox.xero.control import XeroControl
from tests.pipelines.xero.conftest import API, QUICK, api_calls, options, query

CONTACTS = f"{API}/Contacts"


def test_the_daily_limit_stop_says_when_to_continue_and_the_next_run_resumes_from_the_cursor(
    settings: Settings,
    auth: XeroAuth,
    dataset: Dataset,
    control: SandboxControl,
    xero: XeroControl,
    tenant: str,
) -> None:
    xero.set_limits(tenant, day=6)  # six calls today, two of them kept for writes
    pacing = replace(QUICK, daily_reserve=2)
    first = XeroRun()
    began = datetime.now(UTC)
    with pytest.raises(DailyLimitReached) as stopped:
        run_xero_extract(settings, options=options(page_size=50, pacing=pacing), run=first)
    message = str(stopped.value)
    assert "2 calls left, kept for writes (reserve 2)" in message
    assert "continues from its cursor" in message
    when = re.search(r"Run again after (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", message)
    assert when is not None
    resume = datetime.strptime(when.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert began + timedelta(hours=23, minutes=59) <= resume <= began + timedelta(hours=24, minutes=1)
    assert stopped.value.load_info is not None  # what was read before the stop is loaded
    read = [c for c in api_calls(control) if c["status"] == 200]
    assert len(read) == 4  # and the two calls of the reserve are left for the writer
    assert all(app["day_remaining"] == 2 for app in xero.limits(tenant)["apps"].values())
    pages = sum(1 for c in read if c["path"] == CONTACTS)
    loaded = query(settings, "select count(*) from raw.xero_contacts")[0][0]
    assert loaded == pages * 50  # plain pages of one query: no record read twice

    # The next day: a fresh window (and a fresh process).
    xero.reset_limits(tenant)
    xero.set_limits(tenant, day=5000)
    reset_pacers()
    since = control.last_seq()
    second = XeroRun()
    run_xero_extract(settings, options=options(page_size=50), run=second)
    assert second.modes["xero_contacts"] == "full read (continued)"
    remaining = len(dataset.xero_contacts) - loaded
    pages = sum(1 for c in api_calls(control, since) if c["path"] == CONTACTS)
    # Only what was left, from the cursor on (the cursor's own record read again: the overlap).
    assert pages == -(-(remaining + 1) // 50)
    assert query(settings, "select count(*) from raw.xero_contacts")[0][0] == len(dataset.xero_contacts)
    assert query(settings, "select count(*) from raw.xero_users")[0][0] == len(dataset.xero_users)
    # The full read is now complete: the run after that is incremental.
    third = XeroRun()
    run_xero_extract(settings, options=options(page_size=50), run=third)
    assert third.modes["xero_contacts"] == "incremental"


def test_a_day_limit_429_from_xero_stops_at_once_with_the_time_xero_gave(
    settings: Settings,
    auth: XeroAuth,
    dataset: Dataset,
    control: SandboxControl,
    xero: XeroControl,
    tenant: str,
) -> None:
    # Another app of this organisation's owner ate today's calls before the run started.
    xero.set_limits(tenant, day=3)
    with httpx.Client(base_url=settings.xero_api_url, headers=auth.headers()) as http:
        for _ in range(3):
            assert http.get("/Users").status_code == 200
    since = control.last_seq()
    with pytest.raises(DailyLimitReached) as stopped:
        run_xero_extract(settings, options=options(), run=XeroRun())
    assert stopped.value.exact
    assert "Run again after" in str(stopped.value) and "at the latest" not in str(stopped.value)
    # One refused call, not retried, not followed by any other read.
    assert [(c["status"], c["rate_limit_problem"]) for c in api_calls(control, since)] == [(429, "day")]

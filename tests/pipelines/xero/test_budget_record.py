"""Xero's daily budget outlives the run: recorded per organisation in $CAPSULE_XERO_HOME/xero-budget.json."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from capsule_xero.rules.loading import parse_rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, XeroHttpxAuth
from capsule_xero.xero.budget import (
    BudgetRecorder,
    OrganisationBudget,
    api_origin,
    budget_file_in,
    read_budget,
    read_budgets,
    record,
)
from capsule_xero.xero.pacing import PacingPolicy, XeroPacer
from capsule_xero.xero.transports import PacedTransport, pacer_for
from pipelines.xero import DailyLimitReached, XeroRun, reset_pacers, run_xero_extract
from reverse_etl.alerts.delivery import check_and_send
from sandbox.generator import Dataset
from sandbox.xero.control import XeroControl
from tests.pipelines.xero.conftest import QUICK, options
from tests.reverse_etl.test_alerts import HttpReceiver
from tests.support.waiting import wait_for

Extract = Callable[..., XeroRun]


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    http = HttpReceiver()
    yield http
    http.server.shutdown()
    http.server.server_close()


def budget(settings: Settings, tenant: str) -> OrganisationBudget | None:
    return read_budget(budget_file_in(settings.home), api_origin(settings.xero_api_url), tenant.lower())


def xero_day_remaining(xero: XeroControl, tenant: str) -> int:
    (app,) = xero.limits(tenant)["apps"].values()
    return app["day_remaining"]


def use_up_the_day(settings: Settings, auth: XeroAuth, xero: XeroControl, tenant: str) -> None:
    """Another app of the organisation's owner eats today's calls before the run starts."""
    xero.set_limits(tenant, day=3)
    with httpx.Client(base_url=settings.xero_api_url, headers=auth.headers()) as http:
        for _ in range(3):
            assert http.get("/Users").status_code == 200


def test_after_an_extract_the_record_holds_the_calls_left_that_xero_reported(
    extract: Extract, settings: Settings, dataset: Dataset, xero: XeroControl, tenant: str, auth: XeroAuth
) -> None:
    began = datetime.now(UTC)
    extract(page_size=100)
    left = xero_day_remaining(xero, tenant)
    assert left < 5000  # the run used some of today's calls
    # The last figure reaches the file within a second, without the process having to end.
    saved = wait_for(lambda: (b := budget(settings, tenant)) is not None and b.day_remaining == left and b)
    assert began <= saved.seen_at <= datetime.now(UTC)
    assert saved.resume_after is None and saved.reserve == QUICK.daily_reserve
    text = budget_file_in(settings.home).read_text()
    tokens = auth.store.load()
    assert tokens.access_token not in text and (tokens.refresh_token or "-") not in text


def test_a_day_limit_429_is_recorded_at_once_and_a_new_window_lifts_it(
    settings: Settings, auth: XeroAuth, xero: XeroControl, tenant: str
) -> None:
    use_up_the_day(settings, auth, xero, tenant)
    with pytest.raises(DailyLimitReached) as stopped:
        run_xero_extract(settings, options=options(), run=XeroRun())
    saved = budget(settings, tenant)  # no waiting: a stop is written before the run hears of it
    assert saved is not None and saved.used_up(datetime.now(UTC))
    assert saved.resume_after == stopped.value.resume_after and saved.resume_exact
    assert saved.day_remaining == 0

    # The next day, in a new process: the first answer shows a fresh window, and the stop is lifted.
    xero.reset_limits(tenant)
    xero.set_limits(tenant, day=5000)
    reset_pacers()
    run_xero_extract(settings, options=options(page_size=100), run=XeroRun())
    reset_pacers()  # the process ends: what was pending is written
    saved = budget(settings, tenant)
    assert saved is not None and not saved.stopped(datetime.now(UTC)) and saved.resume_after is None
    assert saved.day_remaining == xero_day_remaining(xero, tenant)


def test_reads_stopped_at_the_reserve_are_recorded_with_the_latest_resume_time(
    settings: Settings, auth: XeroAuth, dataset: Dataset, xero: XeroControl, tenant: str
) -> None:
    xero.set_limits(tenant, day=6)  # six calls today, two of them kept for writes
    pacing = replace(QUICK, daily_reserve=2)
    with pytest.raises(DailyLimitReached) as stopped:
        run_xero_extract(settings, options=options(page_size=50, pacing=pacing), run=XeroRun())
    saved = budget(settings, tenant)
    now = datetime.now(UTC)
    assert saved is not None and saved.stopped(now) and not saved.used_up(now)  # writes may still go
    assert saved.stop_remaining == 2 and saved.day_remaining == 2
    assert saved.resume_after == stopped.value.resume_after and not saved.resume_exact


def test_a_day_limit_429_makes_the_alerts_check_send_a_budget_alert_with_the_resume_time_once(
    settings: Settings,
    auth: XeroAuth,
    xero: XeroControl,
    tenant: str,
    receiver: HttpReceiver,
) -> None:
    use_up_the_day(settings, auth, xero, tenant)
    with pytest.raises(DailyLimitReached) as stopped:
        run_xero_extract(settings, options=options(), run=XeroRun())
    rules = parse_rules(f"alerts:\n  channels:\n    - webhook: {{url: {receiver.url}/ops}}\n")
    # No DuckDB connection: the check runs while a run holds the file.
    check_and_send(None, settings, rules, env={})
    check_and_send(None, settings, rules, datetime.now(UTC) + timedelta(minutes=5), env={})
    sent = [body for path, body in receiver.posts if path == "/ops"]
    assert [body["kind"] for body in sent] == ["budget_exhausted"]
    resume = f"{stopped.value.resume_after:%Y-%m-%d %H:%M} UTC"
    assert resume in sent[0]["detail"] and tenant.lower() in sent[0]["detail"]
    assert "capsule-xero sync" in sent[0]["fix"]


def test_an_unwritable_budget_file_does_not_fail_the_xero_call(
    settings: Settings, auth: XeroAuth, tenant: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    unwritable = tmp_path / "a-file" / "xero-budget.json"
    with (
        caplog.at_level(logging.WARNING, logger="capsule_xero.xero.budget"),
        httpx.Client(
            base_url=settings.xero_api_url,
            transport=PacedTransport(policy=QUICK, budget_file=unwritable),
            auth=XeroHttpxAuth(auth),
        ) as http,
    ):
        for _ in range(3):
            assert http.get("/Users").status_code == 200
        recorder = pacer_for(settings.xero_api_url, tenant).budget
        assert recorder is not None
        recorder.flush()  # the figures pending since the first failed write fail to be written too
    warnings = [r for r in caplog.records if "Could not record Xero's daily call budget" in r.getMessage()]
    assert len(warnings) == 1  # said once, not on every call


def test_a_busy_run_writes_the_record_at_most_once_a_second_and_ends_with_the_last_figure(
    settings: Settings, auth: XeroAuth, xero: XeroControl, tenant: str
) -> None:
    began = time.monotonic()
    with httpx.Client(
        base_url=settings.xero_api_url,
        transport=PacedTransport(policy=QUICK, budget_file=budget_file_in(settings.home)),
        auth=XeroHttpxAuth(auth),
    ) as http:
        for _ in range(20):
            assert http.get("/Users").status_code == 200
    recorder = pacer_for(settings.xero_api_url, tenant).budget
    assert recorder is not None
    writes = recorder.writes
    elapsed = time.monotonic() - began  # measured after counting: a write due meanwhile is allowed for
    assert writes <= 1 + elapsed / recorder.interval
    left = xero_day_remaining(xero, tenant)
    wait_for(lambda: (b := budget(settings, tenant)) is not None and b.day_remaining == left, timeout=3)


def test_a_fresher_figure_from_another_process_is_kept_and_a_stop_it_did_not_see_is_kept_too(
    tmp_path: Path,
) -> None:
    path = budget_file_in(tmp_path)
    now = datetime.now(UTC)
    resume = now + timedelta(hours=3)
    writer = OrganisationBudget(
        "https://api.xero.com",
        "t-1",
        day_remaining=1,
        seen_at=now,
        updated_at=now,
        resume_after=resume,
        resume_exact=True,
        stop_remaining=0,
        stop_changed_at=now,
    )
    extractor = OrganisationBudget(
        "https://api.xero.com", "t-1", day_remaining=40, seen_at=now - timedelta(seconds=30), updated_at=now
    )
    record(path, [writer])
    record(path, [extractor])  # older news, written later
    (saved,) = read_budgets(path)
    assert saved.day_remaining == 1 and saved.resume_after == resume and saved.resume_exact


def test_late_answers_after_reads_stopped_do_not_lift_the_stop_but_a_new_window_does(tmp_path: Path) -> None:
    path = budget_file_in(tmp_path)
    pacer = XeroPacer(
        "t-1", PacingPolicy(daily_reserve=10), budget=BudgetRecorder(path, "https://api.xero.com", "t-1")
    )
    pacer.observe(200, {"X-DayLimit-Remaining": "10"})
    with pytest.raises(DailyLimitReached):
        pacer.acquire()  # a read, at the reserve
    pacer.observe(200, {"X-DayLimit-Remaining": "12"})  # a call that was in flight, answered late
    assert pacer.budget is not None
    pacer.budget.flush()
    (saved,) = read_budgets(path)
    assert saved.stopped(datetime.now(UTC)) and saved.day_remaining == 12
    pacer.observe(200, {"X-DayLimit-Remaining": "4990"})  # only a new daily window explains this
    (saved,) = read_budgets(path)  # written at once: the alert must stop
    assert not saved.stopped(datetime.now(UTC)) and saved.day_remaining == 4990

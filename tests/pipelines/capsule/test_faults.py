"""Misbehaving Capsule: 429 storms, 5xx, hangs, dropped connections, the hourly limit itself."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from capsule_xero.settings import Settings
from pipelines.capsule import CapsuleRateLimitReached, capsule_pipeline, extract_capsule
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset
from sandbox.server import SandboxServer
from tests.pipelines.capsule.conftest import Loaded, capsule_calls, fast_pacer, pages, query, settings_for

DLT_COLUMNS = ("_dlt_load_id", "_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_list_idx")


def contents(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every capsule_* table, without dlt's bookkeeping; child rows keyed by their parent's id."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for table, column in con.execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'raw' "
            "and table_name like 'capsule_%' order by table_name, ordinal_position"
        ).fetchall():
            if column not in DLT_COLUMNS:
                columns.setdefault(table, []).append(column)
        for table, names in columns.items():
            select = ", ".join(f"c.{c}" for c in names)
            if "__" in table:
                parent = table.split("__")[0]
                sql = f"select p.id, {select} from raw.{table} c join raw.{parent} p on c._dlt_parent_id = p._dlt_id"  # noqa: S608
            else:
                sql = f"select {select} from raw.{table} c"  # noqa: S608 (names from information_schema)
            found[table] = sorted(con.execute(sql).fetchall(), key=repr)
    return found


_FAULT_FREE: dict[str, dict[str, list[tuple[Any, ...]]]] = {}


@pytest.fixture
def fault_free(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    server: SandboxServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, list[tuple[Any, ...]]]:
    """The small world loaded into the sandbox, and what a run without faults stores from it
    (extracted once per session: the world and the sandbox are deterministic)."""
    load_world(small_world)
    if "small" not in _FAULT_FREE:
        reference = settings_for(server, tmp_path_factory.mktemp("fault-free"))
        extract_capsule(reference, pacer=fast_pacer())
        _FAULT_FREE["small"] = contents(reference)
    return _FAULT_FREE["small"]


@pytest.mark.parametrize(
    ("faults", "expected_kinds"),
    [
        pytest.param({"500": 0.3, "503": 0.3}, {"500", "503"}, id="5xx"),
        pytest.param({"drop": 0.4}, {"drop"}, id="dropped-connections"),
    ],
)
def test_a_run_through_server_errors_or_dropped_connections_loads_exactly_what_a_clean_run_does(
    fault_free: dict[str, list[tuple[Any, ...]]],
    settings: Settings,
    ctl: CapsuleControl,
    faults: dict[str, float],
    expected_kinds: set[str],
) -> None:
    ctl.add_fault("capsule", "GET", "/api/v2/*", times=8, **faults)
    seq = ctl.last_seq()
    result = extract_capsule(settings, pacer=fast_pacer())
    served = capsule_calls(ctl, seq)
    fired = [c["fault"] for c in served if c["fault"]]
    assert len(fired) == 8 and set(fired) == expected_kinds
    assert result.retries == 8 and result.calls == len(served)
    assert contents(settings) == fault_free


def test_a_hang_past_the_client_timeout_is_abandoned_and_retried(
    fault_free: dict[str, list[tuple[Any, ...]]], settings: Settings, ctl: CapsuleControl
) -> None:
    ctl.add_fault("capsule", "GET", "/api/v2/parties", times=2, hang_seconds=1.5, hang=1.0)
    started = time.monotonic()
    result = extract_capsule(settings, pacer=fast_pacer(), timeout=(2.0, 0.5))
    assert result.retries == 2
    assert time.monotonic() - started < 6  # gave up on each hang after the 0.5 s read timeout
    assert contents(settings) == fault_free


def test_a_429_storm_is_waited_out_until_x_ratelimit_reset_without_retry_after(
    fault_free: dict[str, list[tuple[Any, ...]]], settings: Settings, ctl: CapsuleControl
) -> None:
    ctl.set_rate_limit(window_seconds=1)  # X-RateLimit-Reset is at most a second away
    ctl.add_fault("capsule", "GET", "/api/v2/*", times=3, **{"429": 0.6})
    seq = ctl.last_seq()
    pacer = fast_pacer()
    result = extract_capsule(settings, pacer=pacer)
    served = capsule_calls(ctl, seq)
    refused = [c for c in served if c["status"] == 429]
    assert len(refused) == 3 and result.retries == 3
    for call in refused:  # each retry went out only after the window the 429 named had reset
        retry = next(c for c in served if c["seq"] > call["seq"])
        assert math.floor(retry["started"]) > math.floor(call["started"])
    assert 0 < pacer.waited < 3 * 1.2
    assert contents(settings) == fault_free


def test_a_run_meeting_the_hourly_limit_waits_for_a_reset_within_max_wait_and_is_never_refused(
    fault_free: dict[str, list[tuple[Any, ...]]],
    settings: Settings,
    sandbox: Sandbox,
    ctl: CapsuleControl,
    capsule_state: Callable[[], Loaded],
) -> None:
    state = capsule_state()
    calls_needed = 3 + sum(
        pages(len(x)) for x in (state.parties, state.opportunities, state.kases, state.tasks)
    )
    calls_needed += sum(pages(len(state.deleted[k])) for k in ("parties", "opportunities", "kases"))
    now = sandbox.clock.timestamp()
    sandbox.clock.advance(3600 - now % 3600 + 10)  # 10 s into a fresh hour
    ctl.set_rate_limit(limit=calls_needed - 4, window_seconds=3600)
    seq = ctl.last_seq()
    # The pacer lives on Capsule's clock and its waiting moves that clock on: an hour passes at once.
    pacer = fast_pacer(clock=sandbox.clock.timestamp, sleep=sandbox.clock.advance, max_wait=3600)
    extract_capsule(settings, pacer=pacer)
    served = capsule_calls(ctl, seq)
    assert len(served) == calls_needed
    assert not [c for c in served if c["status"] == 429]  # the pacer waited; Capsule never had to refuse
    assert 3500 < pacer.waited < 3600
    assert contents(settings) == fault_free


def test_a_run_that_would_break_the_hourly_limit_stops_says_when_to_continue_and_the_next_run_resumes(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    settings: Settings,
    sandbox: Sandbox,
    ctl: CapsuleControl,
    capsule_state: Callable[[], Loaded],
) -> None:
    load_world(small_world)
    pacer = fast_pacer(clock=sandbox.clock.timestamp)  # the pacer lives on Capsule's (sandbox) clock
    extract_capsule(settings, pacer=pacer)
    loads = query(settings, "select count(*) from raw._dlt_loads")
    edited = next(iter(capsule_state().parties))
    ctl.update_party(edited, {"jobTitle": "Edited before the limit"})

    now = sandbox.clock.timestamp()
    sandbox.clock.advance(3600 - now % 3600 + 10)  # 10 s into a fresh hour: the reset is ~an hour away
    ctl.set_rate_limit(limit=5, window_seconds=3600)
    seq = ctl.last_seq()
    with pytest.raises(CapsuleRateLimitReached) as stopped:
        extract_capsule(settings, pacer=pacer)
    reset = datetime.fromtimestamp((math.floor(sandbox.clock.timestamp() / 3600) + 1) * 3600, UTC)
    message = str(stopped.value)
    assert f"{reset:%Y-%m-%d %H:%M:%S} UTC" in message
    assert "run again after that" in message and "continues from the cursors" in message
    assert stopped.value.resume_at >= reset
    served = capsule_calls(ctl, seq)
    assert len(served) == 5 and not [c for c in served if c["status"] == 429]  # stopped, not refused
    assert query(settings, "select count(*) from raw._dlt_loads") == loads  # nothing half-saved
    assert not capsule_pipeline(settings).has_pending_data  # and nothing waiting to be loaded later
    assert query(settings, "select job_title from raw.capsule_parties where id = ?", edited) != [
        ("Edited before the limit",)
    ]

    sandbox.clock.advance(3600)  # the hour has passed
    ctl.set_rate_limit(limit=4000)
    seq = ctl.last_seq()
    result = extract_capsule(settings, pacer=pacer)
    served = capsule_calls(ctl, seq)
    assert len(served) == 9 + pages(len(capsule_state().tasks))  # from the cursors, not from scratch
    assert all("since=" in c["query"] for c in served if c["path"] == "/api/v2/parties")
    assert query(settings, "select job_title from raw.capsule_parties where id = ?", edited) == [
        ("Edited before the limit",)
    ]
    assert result.row_counts["capsule_parties"] >= 1

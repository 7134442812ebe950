"""`capsule-xero sync | plan | approve | status` against the sandbox: what they print and their exit codes."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from typer.testing import CliRunner, Result

from capsule_xero.progress import Progress
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from cli import app as cli
from reverse_etl.plans.model import StalePlanError
from reverse_etl.plans.staleness import check_plan_is_current
from reverse_etl.plans.store import load_plan, mark_plan
from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.generator import generate
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl

PARTIES = 200
NO_APPROVAL_RULES = """\
approval:
  max_operations: 100000
  archives_need_approval: false
  first_migration_needs_approval: false
"""


@pytest.fixture
def bare_env(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """capsule-xero pointed at the sandbox (an empty Capsule account and Xero organisation)."""
    values = server.env() | {"CAPSULE_XERO_HOME": str(tmp_path / "home")}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # keep rich from wrapping the lines the tests read
    monkeypatch.chdir(tmp_path)  # no stray ./capsule-xero.yaml
    return values


@pytest.fixture
def env(bare_env: dict[str, str], server: SandboxServer) -> dict[str, str]:
    """A generated Capsule account and its partly matching Xero organisation."""
    server.call(lambda: server.sandbox.load(generate(parties=PARTIES, seed=21)))
    return bare_env


def sign_in() -> Settings:
    settings = Settings.from_env()
    login(
        XeroAuth(settings),
        choose_tenant=lambda c: c[0],
        open_url=lambda u: httpx.get(u, follow_redirects=True),
    )
    return settings


@pytest.fixture
def signed_in(env: dict[str, str]) -> Settings:
    return sign_in()


@pytest.fixture
def control(server: SandboxServer) -> Iterator[SandboxControl]:
    client = SandboxControl(server.xero_url)
    yield client
    client.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


def xero_writes(control: SandboxControl) -> list[dict[str, Any]]:
    return [c for c in control.calls("xero") if c["method"] in {"POST", "PUT"} and "/api.xro/" in c["path"]]


@dataclass
class FirstSync:
    """A signed-in home after one `capsule-xero sync` of the generated world, and what it printed."""

    env: dict[str, str]
    home: Path
    result: Result
    server: SandboxServer


@pytest.fixture(scope="module")
def first_sync(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstSync]:
    """One first sync (no --apply) shared by the checks that only read its plan or sync again with
    nothing changed: none of them changes the plan, Capsule or Xero, so each sees plan 1 as made."""
    root = tmp_path_factory.mktemp("first-sync")
    with SandboxServer(Sandbox(seed=7)) as server:
        server.call(lambda: server.sandbox.load(generate(parties=PARTIES, seed=21)))
        values = server.env() | {"CAPSULE_XERO_HOME": str(root / "home")}
        with pytest.MonkeyPatch.context() as patch:  # as bare_env, for the sync alone
            for key, value in values.items():
                patch.setenv(key, value)
            patch.delenv("CAPSULE_XERO_CONFIG", raising=False)
            patch.setenv("COLUMNS", "200")
            patch.chdir(root)
            sign_in()
            result = run("sync")
        yield FirstSync(values, root / "home", result, server)


@pytest.fixture
def after_first_sync(first_sync: FirstSync, monkeypatch: pytest.MonkeyPatch) -> FirstSync:
    """capsule-xero pointed at the shared first sync's home and stand-ins."""
    for key, value in first_sync.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(first_sync.home.parent)
    return first_sync


@pytest.fixture
def first_sync_control(after_first_sync: FirstSync) -> Iterator[SandboxControl]:
    client = SandboxControl(after_first_sync.server.xero_url)
    yield client
    client.close()


def test_sync_makes_a_first_migration_plan_that_waits_and_writes_nothing(
    after_first_sync: FirstSync, first_sync_control: SandboxControl
) -> None:
    result = after_first_sync.result
    assert result.exit_code == 0, result.output
    assert "Plan 1 · waiting for approval" in result.output
    assert "first migration: nothing written to Xero yet" in result.output
    assert "to create" in result.output and "capsule-xero approve 1" in result.output
    assert "Nothing was written (no --apply)" in result.output
    assert xero_writes(first_sync_control) == []


def test_sync_with_nothing_to_write_says_so_and_a_rerun_keeps_the_same_empty_plan(
    bare_env: dict[str, str],
) -> None:
    sign_in()
    first = run("sync", "--apply")
    assert first.exit_code == 0, first.output
    assert "Plan 1 · empty: nothing to write" in first.output and "Nothing to do" in first.output
    again = run("sync", "--apply")
    assert again.exit_code == 0, again.output
    assert "Nothing changed since plan 1 was made" in again.output and "Nothing to do" in again.output
    assert "Plan 2" not in again.output


def test_sync_apply_on_a_plan_that_waits_exits_0_and_says_to_approve_it(
    after_first_sync: FirstSync, first_sync_control: SandboxControl
) -> None:
    assert after_first_sync.result.exit_code == 0
    result = run("sync", "--apply")
    assert result.exit_code == 0, result.output
    assert "Nothing changed since plan 1 was made" in result.output  # the same plan, not a new number
    assert "Plan 1 waits for approval; nothing was written" in result.output
    assert "capsule-xero approve 1" in result.output
    assert xero_writes(first_sync_control) == []


def test_plan_prints_the_newest_plan_filtered_limited_or_as_json(after_first_sync: FirstSync) -> None:
    assert after_first_sync.result.exit_code == 0
    shown = run("plan")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    counts = next(i for i, line in enumerate(lines) if ", 0 History notes" in line or "History note" in line)
    first_op = next(
        i for i, line in enumerate(lines) if line.startswith(("+ create", "~ update", "- archive"))
    )
    assert counts < first_op
    updates = run("plan", "--operation", "update", "--limit", "2")
    assert updates.exit_code == 0, updates.output
    assert sum(line.startswith("~ update ") for line in updates.output.splitlines()) == 2
    assert not any(line.startswith("+ create") for line in updates.output.splitlines())
    assert "more update operations" in updates.output
    as_json = run("plan", "--json")
    assert as_json.exit_code == 0
    data = json.loads(as_json.output)
    planned = sum(data["counts"][op] for op in ("create", "update", "archive", "restore"))
    assert data["plan_id"] == 1 and len(data["operations"]) == planned
    assert all(op["before"] is None for op in data["operations"] if op["operation"] == "create")


def test_plan_for_a_plan_that_does_not_exist_or_an_unknown_operation_fails(
    after_first_sync: FirstSync,
) -> None:
    assert after_first_sync.result.exit_code == 0
    missing = run("plan", "5")
    assert missing.exit_code == 1 and "no plan 5; the newest is plan 1" in missing.output
    unknown = run("plan", "--operation", "delete")
    assert unknown.exit_code == 2 and "create, update, archive, restore" in unknown.output


def test_plan_and_approve_before_any_sync_exit_1_and_say_what_to_run(env: dict[str, str]) -> None:
    shown = run("plan")
    assert shown.exit_code == 1 and "capsule-xero plan --refresh" in shown.output
    approved = run("approve", "1")
    assert approved.exit_code == 1 and "capsule-xero sync" in approved.output


def test_approve_approves_the_waiting_plan_once_and_refuses_the_rest(signed_in: Settings) -> None:
    assert run("sync").exit_code == 0
    approved = run("approve", "1")
    assert approved.exit_code == 0, approved.output
    assert "Plan 1 approved" in approved.output and "capsule-xero apply 1" in approved.output
    again = run("approve", "1")
    assert again.exit_code == 1 and "already approved" in again.output
    missing = run("approve", "9")
    assert missing.exit_code == 1 and "There is no plan 9" in missing.output
    with duckdb.connect(str(signed_in.duckdb_path), read_only=True) as con:
        plan = load_plan(con, 1)
    assert plan is not None and plan.status == "approved"


class ApplyLoop:
    """A stand-in for reverse_etl.apply (its own tests cover the writing): it records each call and sets
    the plan's status to ``outcome``, so these tests see what `sync --apply` does with each result."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.outcome = "applied"

    def apply_plan(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: Settings,
        rules: Any,
        plan_id: int,
        on_progress: Any = None,
    ) -> None:
        self.calls.append(plan_id)
        if on_progress is not None:  # what the loop reports as the one batch goes out
            on_progress(Progress("contacts", 1, 1, calls_used=1, calls_left=4_900, unit="batches"))
        mark_plan(con, plan_id, self.outcome)


@pytest.fixture
def apply_loop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ApplyLoop:
    """The stand-in apply loop, and rules under which a plan needs no approval."""
    loop = ApplyLoop()
    module = types.ModuleType("reverse_etl.apply.loop")
    module.apply_plan = loop.apply_plan  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "reverse_etl.apply.loop", module)
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(NO_APPROVAL_RULES)
    monkeypatch.setenv("CAPSULE_XERO_CONFIG", str(rules_file))
    return loop


def test_sync_apply_hands_an_approved_plan_to_the_apply_loop_and_exits_0_when_it_is_applied(
    signed_in: Settings, apply_loop: ApplyLoop
) -> None:
    result = run("sync", "--apply")
    assert result.exit_code == 0, result.output
    assert "Plan 1 · approved, ready to apply" in result.output and "Plan 1 applied." in result.output
    assert (
        "Writing contacts (batches of ≤ 50): 1/1 batches, 1 call, 4,900 calls left today, ETA done"
        in result.output
    )
    assert apply_loop.calls == [1]


def test_sync_apply_exits_1_when_the_plan_was_only_partly_applied(
    signed_in: Settings, apply_loop: ApplyLoop
) -> None:
    apply_loop.outcome = "partly_applied"
    result = run("sync", "--apply")
    assert result.exit_code == 1, result.output
    assert "Plan 1 is partly applied" in result.output and "capsule-xero status" in result.output
    assert apply_loop.calls == [1]


def test_a_contact_edited_in_xero_after_the_plan_makes_it_stale_and_plan_refresh_replaces_it(
    signed_in: Settings, server: SandboxServer
) -> None:
    assert run("sync").exit_code == 0
    with duckdb.connect(str(signed_in.duckdb_path), read_only=True) as con:
        (contact_id,) = con.execute(
            "select contact_id from ledger.plan_operations where plan_id = 1 and operation = 'update' limit 1"
        ).fetchone()
    xero = XeroControl(server.xero_url)
    try:
        xero.edit_contact(contact_id, EmailAddress="accounts@changed-by-a-bookkeeper.com.au")
    finally:
        xero.close()
    assert run("extract", "--only", "xero").exit_code == 0
    with duckdb.connect(str(signed_in.duckdb_path)) as con, pytest.raises(StalePlanError) as caught:
        check_plan_is_current(con, 1)
    assert caught.value.contact_ids == [contact_id]
    assert "1 Xero contact changed or appeared" in str(caught.value) and contact_id in str(caught.value)
    refreshed = run("plan", "--refresh")
    assert refreshed.exit_code == 0, refreshed.output
    assert "Plan 2 · waiting for approval" in refreshed.output
    assert "Plan 1 will not be applied: superseded by plan 2" in refreshed.output


def test_sync_before_signing_in_to_xero_exits_1_and_plans_nothing(env: dict[str, str]) -> None:
    result = run("sync")
    assert result.exit_code == 1
    assert "Nothing was planned" in result.output and "capsule-xero auth login" in result.output


def test_status_shows_the_plans_the_error_queue_the_sign_in_and_the_api_budget(signed_in: Settings) -> None:
    assert run("sync").exit_code == 0
    now = datetime.now(UTC)
    with duckdb.connect(str(signed_in.duckdb_path)) as con:
        con.execute(
            "create table if not exists ledger.error_queue (party_id bigint primary key, contact_id varchar,"
            " plan_id bigint, seq integer, operation varchar, error_kind varchar, message varchar,"
            " attempts integer, first_failed_at timestamptz, next_attempt_at timestamptz, state varchar)"
        )
        con.execute(
            "insert into ledger.error_queue values"
            " (11, 'c-11', 1, 3, 'archive', 'refused',"
            " 'This contact cannot be archived because it is used on a repeating invoice.', 5, ?, null, 'dead'),"
            " (12, null, 1, 4, 'create', 'unavailable', 'Xero answered 503 three times', 2, ?, ?, 'retrying')",
            [now - timedelta(days=2), now - timedelta(hours=1), now + timedelta(hours=1)],
        )
    result = run("status")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Plans (newest first)" in out and "pending_approval" in out and "capsule-xero approve 1" in out, (
        out
    )
    assert "1 retrying" in out and "1 dead" in out
    lines = out.splitlines()
    assert any("dead" in line and "party 11" in line and "repeating invoice" in line for line in lines), out
    assert any(
        "retrying" in line and "party 12" in line and "503 three times" in line and "next attempt" in line
        for line in lines
    ), out
    assert "Organisation:" in out and "Access token: valid until" in out
    assert "calls left of today's limit as of" in out  # what Xero said during the sync


def test_status_before_any_sync_or_sign_in_still_exits_0_and_says_so(env: dict[str, str]) -> None:
    result = run("status")
    assert result.exit_code == 0, result.output
    assert "no sync has run" in result.output and "Not signed in to Xero" in result.output

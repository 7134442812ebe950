"""A consultant's five clients on Xero's Starter tier (1,000 calls a day per organisation): a first
migration bigger than what is left of the day stops cleanly at the limit, says when it continues,
and continues by itself once the organisation's day has turned (xero_daily_limit_sensor), ending
with every contact once, in its own organisation only.

A migration that needs more than 1,000 calls would take some 50,000 contacts per organisation
(writes go 50 contacts to a call), too big for a test. Instead each organisation's other traffic of
the day (another integration, a person's exports) has used most of its 1,000 calls by the time the
migration writes: the sandbox counts those calls as spent (``XeroControl.spend_calls``), leaving
fewer than the few hundred contacts need. The sandbox runs ``SPEED`` times fast, so the
organisation's day is 24 real minutes; the test moves the sandbox's clock and the sensor's on by
one such day instead of waiting for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest

import assets.sensors.daily_limit as daily_limit
from assets.definitions import defs
from assets.tenancy import TENANT_TAG, settings_of_tenant
from assets.writeback import xero_contacts_written
from capsule_xero.rules.loading import load_rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from capsule_xero.xero.budget import OrganisationBudget, api_origin, budget_file_in, read_budget, record
from capsule_xero.xero.transports import reset_pacers
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from pipelines.xero.settings import XeroExtractConfig
from reverse_etl.apply.loop import apply_plan
from reverse_etl.plans.approval import approve
from reverse_etl.plans.create import create_plan
from reverse_etl.plans.store import load_plan
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from sandbox.xero.ratelimit import DAY
from tests.reverse_etl.plans_by_hand import add_plan, create
from tests.support.sync_world import PACING, SPEED
from transform.stages import reconcile

CLIENTS = ["acme", "bolt", "cove", "dune", "echo"]
PARTIES_PER_CLIENT = 120  # three write calls of 50 contacts
STARTER_DAY_LIMIT = 1_000
LEFT_FOR_THE_MIGRATION = 2  # of the day's 1,000 calls when the migration writes: two of its three


def _party(client: str, number: int) -> dict[str, object]:
    return {
        "type": "organisation",
        "name": f"{client.title()} Customer {number:03d} Pty Ltd",
        "emailAddresses": [{"address": f"accounts{number:03d}@{client}-customer.example"}],
        "tags": [{"name": f"client {client}"}],
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, SandboxServer]]:
    """Five clients on the sandbox's five Xero organisations (its two and three added), each on the
    Starter tier, sharing one Capsule account in which each client's customers carry its tag."""
    sandbox = Sandbox(seed=7, speed=SPEED)
    with SandboxServer(sandbox) as server:
        server.call(
            lambda: [
                sandbox.capsule.create_party({"party": _party(client, number)})
                for client in CLIENTS
                for number in range(PARTIES_PER_CLIENT)
            ]
        )
        env = server.env()
        capsule_token = env.pop("CAPSULE_API_TOKEN")
        for key, value in (env | {"CAPSULE_XERO_HOME": str(tmp_path)}).items():
            monkeypatch.setenv(key, value)
        for name in ("CAPSULE_API_TOKEN", "XERO_TENANT_ID", "CAPSULE_XERO_CONFIG", "CAPSULE_XERO_TENANT"):
            monkeypatch.delenv(name, raising=False)
        with XeroControl(server.xero_url) as control:
            control.add_organisations(3)
            organisations = [t["tenant_id"] for t in control.tenants()]
            for organisation in organisations:
                control.set_limits(organisation, day=STARTER_DAY_LIMIT)
        lines = ["tenants:"]
        for client, organisation in zip(CLIENTS, organisations, strict=True):
            monkeypatch.setenv(f"{client.upper()}_CAPSULE_TOKEN", capsule_token)
            lines += [
                f"  - name: {client}",
                f"    capsule_api_url: {env['CAPSULE_API_URL']}",
                f"    capsule_token_env: {client.upper()}_CAPSULE_TOKEN",
                f"    xero_tenant_id: {organisation}",
                f"    rules: {client}.yaml",
            ]
            # Its own customers only; no Capsule field for the ContactID (one Capsule account for all).
            (tmp_path / f"{client}.yaml").write_text(
                f"capsule: {{xero_contact_id_field: Xero Contact ID of {client}}}\n"
                f"sync: {{only_if: [{{tag: client {client}}}]}}\n",
                encoding="utf-8",
            )
        (tmp_path / "tenants.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        reset_pacers()
        login(
            XeroAuth(Settings.from_env()),
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True, timeout=30),
        )
        yield tmp_path, server
    reset_pacers()


def _migrate(client: str, control: XeroControl) -> tuple[int, str | None, str]:
    """What a person does for a client: read both systems, plan, approve, and apply (the plan's
    writes starting with two of the day's calls left). The plan, why it stopped and its status."""
    settings = settings_of_tenant(client)
    rules = load_rules(settings.config_file)
    extract_capsule(settings)
    run_xero_extract(settings, options=replace(XeroExtractConfig(), pacing=PACING))
    left = control.limits(settings.xero_tenant_id)["apps"][settings.xero_client_id]["day_remaining"]
    control.spend_calls(left - LEFT_FOR_THE_MIGRATION, settings.xero_client_id, settings.xero_tenant_id)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        reconcile(con, rules)
        plan = create_plan(con, rules)
        assert plan.status == "pending_approval", plan
        approve(con, plan.plan_id)
        with XeroContactWriter(settings, XeroAuth(settings), policy=PACING) as writer:
            result = apply_plan(con, settings, rules, plan.plan_id, writer=writer)
    return plan.plan_id, result.stopped, result.status


def _names(control: XeroControl, organisation: str) -> Counter[str]:
    return Counter(contact["Name"] for contact in control.contacts(organisation))


def test_a_migration_bigger_than_the_days_budget_continues_by_itself_once_the_day_turns(
    home: tuple[Path, SandboxServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, server = home
    organisations = {client: settings_of_tenant(client).xero_tenant_id for client in CLIENTS}
    with XeroControl(server.xero_url) as control:
        plans = {}
        for client in CLIENTS:
            plan_id, stopped, status = _migrate(client, control)
            plans[client] = plan_id
            assert status == "partly_applied"
            assert (
                stopped is not None
                and "Xero's daily call limit" in stopped
                and "the next run sends them after" in stopped  # when it continues
            )
            waiting = PARTIES_PER_CLIENT - 50 * LEFT_FOR_THE_MIGRATION
            assert f"{waiting} contact writes" in stopped, stopped
        refused = server.call(lambda: [c for c in server.sandbox.calls.records("xero", 0) if c.status == 429])
        assert len(refused) == len(CLIENTS)  # one refusal each: no 429 storm
        written_so_far = {client: _names(control, organisations[client]) for client in CLIENTS}
        for client, names in written_so_far.items():
            # The calls that were left, 50 contacts each, every one of them once.
            assert sum(names.values()) == 50 * LEFT_FOR_THE_MIGRATION, client
            assert set(names.values()) == {1}, client
            stop = read_budget(
                budget_file_in(folder / "tenants" / client),
                api_origin(settings_of_tenant(client).xero_api_url),
                organisations[client].lower(),
            )
            # Recorded for `capsule-xero status` ("used up; Xero's window resets by ...") and the sensor.
            assert stop is not None and stop.used_up(datetime.now(UTC)), client

        repository = defs().get_repository_def()
        sensor = repository.get_sensor_def("xero_daily_limit_sensor")
        with dg.DagsterInstance.ephemeral() as instance:
            # Later the same day: nothing to do yet.
            early = sensor.evaluate_tick(
                dg.build_sensor_context(instance=instance, repository_def=repository)
            )
            assert not early.run_requests
            assert (early.skip_message or "").count("no stop at Xero's daily limit that has passed") == 5

            # The organisations' day turns: a sandbox day on, which is 1/SPEED of a day on the sensor's clock.
            clock = SandboxControl(server.xero_url)
            clock.set_clock(advance_seconds=DAY + 60)
            clock.close()
            turned = datetime.now(UTC) + timedelta(seconds=(DAY + 60) / SPEED)
            monkeypatch.setattr(daily_limit, "now_utc", lambda: turned)
            result = sensor.evaluate_tick(
                dg.build_sensor_context(instance=instance, repository_def=repository)
            )
            requests = result.run_requests or []
            assert sorted(r.partition_key for r in requests) == CLIENTS
            assert {r.partition_key: r.tags[TENANT_TAG] for r in requests} == {c: c for c in CLIENTS}
            assert len({r.run_key for r in requests}) == len(CLIENTS)
            job = repository.get_job("incremental_sync_job")
            for request in requests:
                reset_pacers()  # each run is a process of its own under the daemon
                run = job.execute_in_process(
                    instance=instance,
                    partition_key=request.partition_key,
                    run_config=request.run_config,
                    tags=request.tags,
                    asset_selection=request.asset_selection,
                    raise_on_error=False,
                )
                assert run.success, [e.message for e in run.all_events if e.is_failure]

            for client in CLIENTS:
                names = _names(control, organisations[client])
                # Its own customers, each once: none of another client's.
                expected = Counter(str(_party(client, n)["name"]) for n in range(PARTIES_PER_CLIENT))
                assert names == expected, client
                with duckdb.connect(
                    str(folder / "tenants" / client / "capsule_xero.duckdb"), read_only=True
                ) as con:
                    plan = load_plan(con)
                assert plan is not None and (plan.plan_id, plan.status) == (plans[client], "applied")

            again = sensor.evaluate_tick(
                dg.build_sensor_context(instance=instance, repository_def=repository)
            )
            assert not again.run_requests


def test_on_a_single_install_the_sensor_asks_for_the_stopped_plan_once_the_day_turns_and_then_never_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a tenants file: one run, for no partition, keyed by the plan and when it stopped; the
    same key once a call of the new day lifted the stop, so that day never starts it twice."""
    for name in ("CAPSULE_XERO_TENANT", "CAPSULE_XERO_TENANTS", "CAPSULE_XERO_CONFIG", "XERO_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    settings = Settings.from_env()
    stopped_at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        plan_id = add_plan(con, [create(1)], status="partly_applied")
        con.execute("update ledger.plans set applied_at = ? where plan_id = ?", [stopped_at, plan_id])
    budget = budget_file_in(tmp_path)
    stop = OrganisationBudget(
        api_origin(settings.xero_api_url),
        "",
        day_remaining=0,
        seen_at=stopped_at,
        resume_after=stopped_at + timedelta(hours=5),
        resume_exact=True,
        stop_remaining=0,
        stop_changed_at=stopped_at,
        updated_at=stopped_at,
    )
    record(budget, [stop])
    sensor = defs().get_repository_def().get_sensor_def("xero_daily_limit_sensor")

    def asked(at: datetime) -> list[dg.RunRequest]:
        monkeypatch.setattr(daily_limit, "now_utc", lambda: at)
        return list(sensor.evaluate_tick(dg.build_sensor_context()).run_requests or [])

    assert asked(stopped_at + timedelta(hours=4)) == []  # the day has not turned
    (request,) = asked(stopped_at + timedelta(hours=5, minutes=1))
    assert request.partition_key is None and request.tags["capsule_xero/plan"] == str(plan_id)
    written = xero_contacts_written.key.to_python_identifier()
    assert request.run_config["ops"][written]["config"] == {"finish_interrupted_plan": plan_id}

    lifted = replace(
        stop, day_remaining=1_000, seen_at=stopped_at + timedelta(hours=6)
    )  # the next sync's call
    record(budget, [lifted])
    assert read_budget(budget, stop.api, "").resume_after is None  # type: ignore[union-attr]
    (again,) = asked(stopped_at + timedelta(hours=7))
    assert again.run_key == request.run_key  # the daemon starts a run key once

    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("update ledger.plans set status = 'applied' where plan_id = ?", [plan_id])
    assert asked(stopped_at + timedelta(hours=8)) == []

"""Stored, numbered plans: snapshot, approval rules, supersession, staleness, error-queue hold-back, rendering.

Two kinds of input: a small generated world (200 parties, extracted from the sandbox and reconciled
once, copied per test) for snapshot fidelity, and hand-made reconcile tables (a ``Scene``) for the
fine-grained rules, where each test says exactly which operations the reconcile found.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from rich.console import Console

from capsule_xero.rules import ApprovalRules, ConflictRules, Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from reverse_etl.ledger import COMPARED_FIELDS, ensure_ledger
from reverse_etl.plan_render import plan_json, render_plan
from reverse_etl.plans import (
    PlanError,
    StalePlanError,
    approve,
    check_plan_is_current,
    create_plan,
    latest_plans,
    load_plan,
    mark_plan,
    plan_notes,
    plan_operations,
)
from sandbox.app import Sandbox
from sandbox.generator import generate
from sandbox.server import SandboxServer
from transform.stages import reconcile

SEED = 21
PLANNED = ("create", "update", "archive", "restore")
PLANNED_AT = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
XERO_STATE = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
# The error queue as the apply loop defines it (the shared table contract); created here when missing.
ERROR_QUEUE_DDL = """
create table if not exists ledger.error_queue (
    party_id bigint primary key, contact_id varchar, plan_id bigint, seq integer, operation varchar,
    error_kind varchar, message varchar, attempts integer, first_failed_at timestamptz,
    next_attempt_at timestamptz, state varchar
)
"""
# Every rule that could make a plan wait, switched off: a plan is approved unless a test switches one on.
NO_APPROVAL = ApprovalRules(
    max_operations=1000, archives_need_approval=False, first_migration_needs_approval=False
)


def rules(**approval: Any) -> Rules:
    return Rules(approval=NO_APPROVAL.model_copy(update=approval))


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    result = con.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def text_of(renderable: Any) -> str:
    console = Console(width=200, record=True, soft_wrap=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


# ---- the generated world ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 generated parties extracted from the sandbox and reconciled with the default rules."""
    sandbox = Sandbox(seed=SEED)
    sandbox.load(generate(parties=200, seed=SEED))
    home = tmp_path_factory.mktemp("plans-world")
    with SandboxServer(sandbox) as server:
        settings = Settings.from_env(server.env() | {"CAPSULE_XERO_HOME": str(home)})
        login(
            XeroAuth(settings),
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True),
        )
        extract_capsule(settings)
        run_xero_extract(settings)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        # The generated CRM activity ends in mid-2026: reconcile "then", so History notes are due.
        ((latest,),) = con.execute("select max(updated_at) from raw.capsule_opportunities").fetchall()
        reconcile(con, Rules(), now=latest + timedelta(days=1))
        con.execute("checkpoint")
    return settings.duckdb_path


@pytest.fixture
def world(world_file: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private, writable copy of the reconciled world."""
    copy = tmp_path / "world.duckdb"
    shutil.copy(world_file, copy)
    with duckdb.connect(str(copy)) as con:
        yield con


def test_a_plan_snapshots_each_write_with_the_sent_fields_after_and_xeros_values_before(
    world: duckdb.DuckDBPyConnection,
) -> None:
    plan = create_plan(world, rules())
    wanted = rows(
        world,
        "select * from reconcile.contact_operations where list_contains(?, operation)",
        [list(PLANNED)],
    )
    current = {c["contact_id"]: c for c in rows(world, "select * from reconcile.current_contacts")}
    ops = plan_operations(world, plan.plan_id)
    assert sorted((o.operation, o.party_id) for o in ops) == sorted(
        (w["operation"], w["party_id"]) for w in wanted
    )
    assert {w["operation"] for w in wanted} >= {"create", "update", "archive"}  # the world has each kind
    by_party = {w["party_id"]: w for w in wanted}
    for op in ops:
        row = by_party[op.party_id]
        assert list(op.changed_fields) == row["changed_fields"]
        assert op.after == {f: row[f] for f in row["changed_fields"]}
        if op.operation == "create":
            assert op.before is None and op.contact_id is None
        else:
            assert op.before == {f: current[op.contact_id][f] for f in row["changed_fields"]}
            assert op.contact_id == row["contact_id"]
        assert list(op.kept_fields) == row["kept_fields"]
        assert op.expect_refusal == row["expect_refusal"]
        assert op.reason.startswith(row["reason"])
    assert [o.seq for o in ops] == list(range(1, len(ops) + 1))
    assert {op: plan.counts[op] for op in PLANNED} == {
        op: sum(1 for w in wanted if w["operation"] == op) for op in PLANNED
    }


def test_an_archive_of_a_contact_that_owes_money_keeps_the_balance_in_the_plan_for_the_approver(
    world: duckdb.DuckDBPyConnection,
) -> None:
    create_plan(world, rules())
    (owing,) = [
        o for o in plan_operations(world, 1, operation="archive") if "outstanding balance" in o.reason
    ]
    assert "Xero keeps" in owing.reason and not owing.expect_refusal


def test_a_plan_snapshots_the_history_notes_the_reconcile_wrote(world: duckdb.DuckDBPyConnection) -> None:
    wanted = rows(world, "select party_id, note_hash, note from reconcile.history_notes order by party_id")
    assert wanted, "the world should have recent CRM activity to note"
    plan = create_plan(world, rules())
    notes = plan_notes(world, plan.plan_id)
    assert [(n.party_id, n.note_hash, n.note) for n in notes] == [
        (w["party_id"], w["note_hash"], w["note"]) for w in wanted
    ]
    assert plan.notes == len(wanted)


def test_xero_state_at_is_the_newest_updated_date_of_the_extracted_contacts(
    world: duckdb.DuckDBPyConnection,
) -> None:
    ((newest,),) = world.execute("select max(updated_date_utc) from raw.xero_contacts").fetchall()
    assert create_plan(world, rules()).xero_state_at == newest


def test_a_first_migration_of_the_generated_world_waits_for_approval_for_each_reason_that_applies(
    world: duckdb.DuckDBPyConnection,
) -> None:
    plan = create_plan(world, Rules(approval=ApprovalRules(max_operations=10)))
    assert plan.status == "pending_approval" and plan.approved_at is None
    archives = plan.counts["archive"]
    assert plan.approval_reasons == (
        f"{plan.operations:,} operations, over the limit of 10 (approval.max_operations)",
        f"{archives} archives (approval.archives_need_approval)",
        "first migration: nothing written to Xero yet (approval.first_migration_needs_approval)",
    )


# ---- hand-made reconcile tables ----------------------------------------------------------------------

RECONCILE_DDL = """
create schema if not exists reconcile;
create schema if not exists raw;
create schema if not exists staging;
create or replace table reconcile.planned_rejects (
    party_id bigint, contact_id varchar, operation varchar, rule varchar, field varchar, value varchar
);
create or replace table reconcile.contact_operations (
    operation varchar, party_id bigint, contact_id varchar, contact_number varchar, name varchar,
    first_name varchar, last_name varchar, email_address varchar, tax_number varchar, website varchar,
    phone_default varchar, phone_mobile varchar, phone_fax varchar, street_address varchar,
    postal_address varchar, contact_persons varchar, contact_groups varchar, changed_fields varchar[],
    kept_fields varchar[], expect_refusal boolean, refusal_reason varchar, reason varchar
);
create or replace table reconcile.current_contacts (
    contact_id varchar, contact_status varchar, xero_updated_at timestamptz, balance_outstanding decimal(18, 2),
    contact_number varchar, name varchar, first_name varchar, last_name varchar, email_address varchar,
    tax_number varchar, website varchar, phone_default varchar, phone_mobile varchar, phone_fax varchar,
    street_address varchar, postal_address varchar, contact_persons varchar, contact_groups varchar
);
create or replace table reconcile.history_notes (
    party_id bigint, contact_id varchar, note_hash varchar, item_keys varchar[], items_total bigint, note varchar
);
create or replace table raw.xero_contacts (
    contact_id varchar, contact_number varchar, name varchar, updated_date_utc timestamptz
);
create or replace table staging.capsule_parties (
    party_id bigint, updated_at timestamptz, deleted_at timestamptz, is_deleted boolean, xero_contact_id varchar
);
"""


class Scene:
    """The reconcile's output, row by row: what the plan is made from."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        ensure_ledger(con)
        con.execute(RECONCILE_DDL)

    def xero(self, contact_id: str, updated: datetime = XERO_STATE, **fields: str | None) -> None:
        values = {f: fields.get(f) for f in COMPARED_FIELDS}
        self.con.execute(
            "insert into reconcile.current_contacts values (?, 'ACTIVE', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [contact_id, updated, *values.values()],
        )
        self.con.execute(
            "insert into raw.xero_contacts values (?, ?, ?, ?)",
            [contact_id, values["contact_number"], values["name"], updated],
        )

    def operation(
        self, operation: str, party_id: int, contact_id: str | None = None, **fields: str | None
    ) -> None:
        values = {f: fields.get(f) for f in COMPARED_FIELDS} | {"contact_number": f"CAP-{party_id}"}
        changed = [f for f in COMPARED_FIELDS if f in fields]
        if operation == "create":
            changed = ["contact_number", *changed]
        self.con.execute(
            "insert into reconcile.contact_operations values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [operation, party_id, contact_id, *values.values(), changed, [], False, None, f"{operation}s it"],
        )

    def note(self, party_id: int, contact_id: str | None, text: str) -> None:
        self.con.execute(
            "insert into reconcile.history_notes values (?, ?, ?, ?, 1, ?)",
            [party_id, contact_id, f"hash-{party_id}-{text}", [f"opportunity:{party_id}"], text],
        )

    def wrote_before(self) -> None:
        """A row in ledger.written_contacts: this organisation is past its first migration."""
        self.con.execute(
            "insert into ledger.written_contacts (contact_id, party_id, plan_id, written_at, contact_status)"
            " values ('written-earlier', 1, null, ?, 'ACTIVE')",
            [XERO_STATE - timedelta(days=30)],
        )

    def queue(
        self, party_id: int, state: str, next_attempt_at: datetime | None, message: str, refused_in: int = 1
    ) -> None:
        """An error-queue entry as the apply loop leaves it after plan ``refused_in`` sent the party's
        operation (its inputs hash is that operation's)."""
        self.con.execute(ERROR_QUEUE_DDL)
        self.con.execute(
            "insert into ledger.error_queue (party_id, contact_id, plan_id, seq, operation, error_kind, message,"
            " attempts, first_failed_at, next_attempt_at, state)"
            " values (?, null, ?, 1, 'update', 'validation', ?, 3, ?, ?, ?)",
            [party_id, refused_in, message, XERO_STATE, next_attempt_at, state],
        )
        self.con.execute(
            "insert into ledger.error_queue_inputs select party_id, cx_operation_inputs(operation, contact_id,"
            " contact_number, changed_fields, after, before, expect_refusal)"
            " from ledger.plan_operations where plan_id = ? and party_id = ?",
            [refused_in, party_id],
        )

    def clear(self) -> None:
        self.con.execute("delete from reconcile.contact_operations")
        self.con.execute("delete from reconcile.history_notes")


@pytest.fixture
def scene() -> Iterator[Scene]:
    with duckdb.connect() as con:
        yield Scene(con)


def a_few_updates(scene: Scene, count: int) -> None:
    for n in range(count):
        scene.xero(f"c-{n}", name=f"Old {n}")
        scene.operation("update", 100 + n, f"c-{n}", name=f"New {n}")


def test_plans_are_numbered_one_two_three(scene: Scene) -> None:
    scene.wrote_before()
    numbers = []
    for n in range(3):
        scene.operation("create", 10 + n, name=f"Party {n}")  # each run finds one more thing to do
        numbers.append(create_plan(scene.con, rules(), now=PLANNED_AT).plan_id)
    assert numbers == [1, 2, 3]


def test_an_update_snapshots_only_the_changed_fields_before_and_after(scene: Scene) -> None:
    scene.wrote_before()
    address = (
        '{"lines":["1 George St"],"city":"Sydney","region":"NSW","postal_code":"2000","country":"Australia"}'
    )
    scene.xero("c-1", name="Acme", email_address="old@acme.com.au", phone_default="+61290000000")
    scene.operation("update", 1, "c-1", email_address="new@acme.com.au", street_address=address)
    plan = create_plan(scene.con, rules(), now=PLANNED_AT)
    (op,) = plan_operations(scene.con, plan.plan_id)
    assert op.after == {"email_address": "new@acme.com.au", "street_address": address}
    assert op.before == {"email_address": "old@acme.com.au", "street_address": None}
    assert op.name == "Acme"  # unchanged: Xero's name, for the people reading the plan


@pytest.mark.parametrize(
    ("approval", "setup", "reason"),
    [
        (
            {"max_operations": 2},
            lambda s: (s.wrote_before(), a_few_updates(s, 3)),
            "3 operations, over the limit of 2 (approval.max_operations)",
        ),
        (
            {"archives_need_approval": True},
            lambda s: (s.wrote_before(), s.xero("c-9", name="Gone"), s.operation("archive", 9, "c-9")),
            "1 archive (approval.archives_need_approval)",
        ),
        (
            {"first_migration_needs_approval": True},
            lambda s: a_few_updates(s, 1),
            "first migration: nothing written to Xero yet (approval.first_migration_needs_approval)",
        ),
    ],
    ids=["over the size limit", "with an archive", "first migration"],
)
def test_a_plan_waits_for_approval_with_the_reason_and_the_rule_that_asked_for_it(
    scene: Scene, approval: dict[str, Any], setup: Any, reason: str
) -> None:
    setup(scene)
    waiting = create_plan(scene.con, rules(**approval), now=PLANNED_AT)
    assert (waiting.status, waiting.approval_reasons, waiting.approved_at) == (
        "pending_approval",
        (reason,),
        None,
    )
    assert waiting.waits_for_approval
    with duckdb.connect() as other:  # the same reconcile under rules that do not ask
        same = Scene(other)
        setup(same)
        relaxed = create_plan(same.con, rules(), now=PLANNED_AT)
    assert (relaxed.status, relaxed.approval_reasons) == ("approved", ())


def test_a_plan_within_every_limit_is_approved_automatically(scene: Scene) -> None:
    scene.wrote_before()
    a_few_updates(scene, 2)
    scene.xero("c-9", name="Gone")
    scene.operation("archive", 9, "c-9")
    plan = create_plan(scene.con, rules(max_operations=3), now=PLANNED_AT)
    assert (plan.status, plan.approval_reasons, plan.approved_at) == ("approved", (), PLANNED_AT)


def test_a_plan_with_nothing_to_write_is_stored_as_empty_and_a_rerun_adds_no_new_number(scene: Scene) -> None:
    scene.operation("noop", 1, "c-1")
    scene.operation("review", 2)
    first = create_plan(scene.con, Rules(), now=PLANNED_AT)
    assert (first.plan_id, first.status, first.approval_reasons, first.operations) == (1, "empty", (), 0)
    assert first.counts["review"] == 1
    again = create_plan(scene.con, Rules(), now=PLANNED_AT + timedelta(hours=1))
    assert (again.plan_id, again.status, again.reused) == (1, "empty", True)
    assert "Nothing to do" in text_of(render_plan(scene.con, again))


def test_a_new_plan_supersedes_the_one_not_yet_applied_but_never_an_applied_one(scene: Scene) -> None:
    scene.wrote_before()
    scene.operation("create", 1, name="One")
    applied = create_plan(scene.con, rules(), now=PLANNED_AT)
    mark_plan(scene.con, applied.plan_id, "applied")
    scene.operation("create", 2, name="Two")
    waiting = create_plan(scene.con, rules(first_migration_needs_approval=True, max_operations=0))
    scene.operation("create", 3, name="Three")
    newest = create_plan(scene.con, rules())
    assert newest.superseded == (waiting.plan_id,)
    statuses = {p.plan_id: p.status for p in latest_plans(scene.con, 10)}
    assert statuses == {applied.plan_id: "applied", waiting.plan_id: "superseded", newest.plan_id: "approved"}


def test_an_empty_plan_supersedes_a_waiting_plan_the_data_made_moot(scene: Scene) -> None:
    a_few_updates(scene, 1)
    waiting = create_plan(scene.con, rules(first_migration_needs_approval=True))
    scene.clear()
    empty = create_plan(scene.con, rules(first_migration_needs_approval=True))
    assert (empty.plan_id, empty.status, empty.superseded) == (2, "empty", (waiting.plan_id,))


def test_a_replan_that_comes_out_the_same_keeps_the_plan_and_its_approval(scene: Scene) -> None:
    a_few_updates(scene, 2)
    first = create_plan(scene.con, rules(first_migration_needs_approval=True), now=PLANNED_AT)
    approve(scene.con, first.plan_id)
    # Xero moved on (a contact the plan does not touch) and the reconcile found the same writes.
    scene.con.execute("insert into raw.xero_contacts values ('other', null, 'Other', ?)", [PLANNED_AT])
    again = create_plan(scene.con, rules(first_migration_needs_approval=True), now=PLANNED_AT)
    assert (again.plan_id, again.status, again.reused) == (first.plan_id, "approved", True)
    assert again.xero_state_at == PLANNED_AT
    check_plan_is_current(scene.con, again.plan_id)  # recomputed against the newer Xero: current


def test_other_rules_make_a_new_plan_even_when_the_writes_are_the_same(scene: Scene) -> None:
    a_few_updates(scene, 1)
    first = create_plan(scene.con, rules())
    second = create_plan(
        scene.con, Rules(approval=NO_APPROVAL, conflicts=ConflictRules(policy="capsule_wins"))
    )
    assert (second.plan_id, second.reused, second.superseded) == (2, False, (first.plan_id,))


# ---- approve -----------------------------------------------------------------------------------------


def test_approve_turns_the_waiting_newest_plan_into_an_approved_one(scene: Scene) -> None:
    a_few_updates(scene, 1)
    waiting = create_plan(scene.con, rules(first_migration_needs_approval=True))
    approved = approve(scene.con, waiting.plan_id, now=PLANNED_AT)
    assert (approved.status, approved.approved_at) == ("approved", PLANNED_AT)
    assert approved.approval_reasons == waiting.approval_reasons  # why it needed a person stays on record


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("already approved", "Plan 1 is already approved"),
        ("superseded", "Plan 1 is out of date: plan 2"),
        ("no such plan", "There is no plan 7 (the newest is plan 1)"),
        ("empty", "Plan 1 is empty"),
        ("applied", "Plan 1 is applied"),
    ],
)
def test_approve_refuses_any_plan_but_the_waiting_newest_one_and_says_why(
    scene: Scene, case: str, message: str
) -> None:
    waits = rules(first_migration_needs_approval=True)
    if case != "empty":
        a_few_updates(scene, 1)
    create_plan(scene.con, waits)
    target = 7 if case == "no such plan" else 1
    if case == "already approved":
        approve(scene.con, 1)
    elif case == "superseded":
        scene.operation("create", 50, name="Newcomer")
        create_plan(scene.con, waits)
    elif case == "applied":
        mark_plan(scene.con, 1, "applied")
    with pytest.raises(PlanError, match=message.replace("(", r"\(").replace(")", r"\)")):
        approve(scene.con, target)


# ---- staleness ---------------------------------------------------------------------------------------


def test_a_plan_is_current_while_nothing_in_xero_changed_after_it(scene: Scene) -> None:
    a_few_updates(scene, 2)
    plan = create_plan(scene.con, rules())
    check_plan_is_current(scene.con, plan.plan_id, rules())


def test_a_contact_changed_in_xero_after_the_plan_makes_it_stale_with_a_message_naming_it(
    scene: Scene,
) -> None:
    a_few_updates(scene, 7)
    plan = create_plan(scene.con, rules())
    later = plan.xero_state_at + timedelta(minutes=5)
    scene.con.execute(
        "update raw.xero_contacts set updated_date_utc = ? where contact_id in ('c-1', 'c-2', 'c-3', 'c-4',"
        " 'c-5', 'c-6')",
        [later],
    )
    with pytest.raises(StalePlanError) as caught:
        check_plan_is_current(scene.con, plan.plan_id)
    error = caught.value
    assert (error.changed_contacts, error.rules_changed) == (6, False)
    assert "6 Xero contacts changed or appeared" in str(error)
    assert "c-1, c-2, c-3, c-4, c-5, …" in str(error) and "c-6" not in str(error)
    assert "capsule-xero plan --refresh" in str(error)


def test_a_contact_that_appeared_in_xero_after_the_plan_makes_it_stale(scene: Scene) -> None:
    scene.wrote_before()
    scene.xero("c-0", name="Someone Else")
    scene.operation("create", 1, name="Acme Pty Ltd")
    plan = create_plan(scene.con, rules())
    # Someone typed the same name into Xero: the create would now collide with it.
    scene.con.execute(
        "insert into raw.xero_contacts values ('typed-by-hand', null, 'Acme Pty Ltd', ?)",
        [plan.xero_state_at + timedelta(seconds=1)],
    )
    with pytest.raises(StalePlanError, match="typed-by-hand"):
        check_plan_is_current(scene.con, plan.plan_id)


def test_the_plans_own_writes_do_not_make_it_stale_so_an_interrupted_apply_can_resume(scene: Scene) -> None:
    scene.xero("c-1", name="Old")
    scene.operation("update", 1, "c-1", name="New")
    scene.operation("create", 2, name="Created")
    plan = create_plan(scene.con, rules())
    later = plan.xero_state_at + timedelta(minutes=1)
    # The plan updated c-1 (recorded in the ledger) and created CAP-2, whose answer was lost.
    scene.con.execute("update raw.xero_contacts set updated_date_utc = ? where contact_id = 'c-1'", [later])
    scene.con.execute(
        "insert into ledger.written_contacts (contact_id, party_id, plan_id, written_at, contact_status)"
        " values ('c-1', 1, ?, ?, 'ACTIVE')",
        [plan.plan_id, later],
    )
    scene.con.execute("insert into raw.xero_contacts values ('new-2', 'CAP-2', 'Created', ?)", [later])
    check_plan_is_current(scene.con, plan.plan_id)


def test_changed_rules_make_a_plan_stale(scene: Scene) -> None:
    a_few_updates(scene, 1)
    plan = create_plan(scene.con, rules())
    other = Rules(approval=NO_APPROVAL, conflicts=ConflictRules(policy="xero_wins"))
    with pytest.raises(StalePlanError, match="the rules file changed") as caught:
        check_plan_is_current(scene.con, plan.plan_id, other)
    assert caught.value.rules_changed and caught.value.changed_contacts == 0


def test_a_superseded_plan_is_never_current(scene: Scene) -> None:
    a_few_updates(scene, 1)
    first = create_plan(scene.con, rules())
    scene.operation("create", 60, name="Sixty")
    create_plan(scene.con, rules())
    with pytest.raises(StalePlanError, match="superseded by plan 2") as caught:
        check_plan_is_current(scene.con, first.plan_id)
    assert caught.value.superseded_by == 2


def test_an_interrupted_plan_stands_until_it_is_finished_while_xero_has_not_moved_on(scene: Scene) -> None:
    a_few_updates(scene, 1)
    first = create_plan(scene.con, rules())
    mark_plan(scene.con, first.plan_id, "applying")  # the run applying it was killed
    scene.operation("create", 70, name="Seventy")  # a change in Capsule meanwhile
    again = create_plan(scene.con, rules())
    assert (again.plan_id, again.resumes, again.status) == (first.plan_id, True, "partly_applied")
    assert [o.party_id for o in plan_operations(scene.con, first.plan_id)] == [100]  # its own, with approval
    check_plan_is_current(scene.con, first.plan_id)  # the apply loop may finish it
    assert "was interrupted before it finished" in text_of(render_plan(scene.con, again))


def test_an_interrupted_plan_xero_has_moved_on_from_is_closed_and_a_new_plan_carries_the_rest(
    scene: Scene,
) -> None:
    a_few_updates(scene, 1)
    first = create_plan(scene.con, rules())
    mark_plan(scene.con, first.plan_id, "applying")
    scene.con.execute(
        "update raw.xero_contacts set updated_date_utc = ? where contact_id = 'c-0'",
        [first.xero_state_at + timedelta(minutes=5)],  # someone edited the contact in Xero
    )
    scene.operation("create", 70, name="Seventy")
    second = create_plan(scene.con, rules())
    assert (second.plan_id, second.resumes) == (2, False)
    assert load_plan(scene.con, first.plan_id).status == "partly_applied"  # closed; its record stays true
    with pytest.raises(StalePlanError, match="superseded by plan 2"):
        check_plan_is_current(scene.con, first.plan_id)


# ---- the error queue ---------------------------------------------------------------------------------


def test_parties_the_error_queue_holds_back_are_left_out_and_reported(scene: Scene) -> None:
    scene.wrote_before()
    a_few_updates(scene, 3)  # parties 100, 101, 102
    scene.note(100, "c-0", "Capsule update: opportunity won")
    scene.note(102, "c-2", "Capsule update: task done")
    first = create_plan(scene.con, rules(), now=PLANNED_AT - timedelta(hours=1))  # sent them; Xero refused
    scene.queue(100, "dead", None, "TaxNumber is not valid", refused_in=first.plan_id)
    scene.queue(101, "retrying", PLANNED_AT + timedelta(hours=2), "Xero was unavailable")
    scene.queue(102, "retrying", PLANNED_AT - timedelta(minutes=1), "Xero was unavailable")  # due: sent again
    plan = create_plan(scene.con, rules(), now=PLANNED_AT)
    assert [o.party_id for o in plan_operations(scene.con, plan.plan_id)] == [102]
    assert [n.party_id for n in plan_notes(scene.con, plan.plan_id)] == [102]
    assert [(h.party_id, h.queue_state, h.message) for h in plan.held_back] == [
        (100, "dead", "TaxNumber is not valid"),
        (101, "retrying", "Xero was unavailable"),
    ]
    assert plan.counts["held_back"] == 2
    shown = text_of(render_plan(scene.con, plan))
    assert "2 held back by the error queue" in shown
    assert "party 100 (update) dead, a person must act: TaxNumber is not valid" in shown
    assert load_plan(scene.con, plan.plan_id).held_back == plan.held_back


def test_a_refused_write_is_planned_again_once_the_record_changed_and_forgotten_once_nothing_is_wanted(
    scene: Scene,
) -> None:
    scene.wrote_before()
    a_few_updates(scene, 2)  # parties 100, 101
    first = create_plan(scene.con, rules(), now=PLANNED_AT)
    scene.queue(100, "dead", None, "TaxNumber is not valid", refused_in=first.plan_id)
    scene.queue(101, "dead", None, "The contact name must not contain the characters < or >.", refused_in=1)
    held = create_plan(scene.con, rules(), now=PLANNED_AT + timedelta(days=30))
    assert plan_operations(scene.con, held.plan_id) == [] and held.counts["held_back"] == 2

    scene.clear()
    scene.operation("update", 100, "c-0", name="New 0", tax_number="51824753556")  # fixed in Capsule
    fixed = create_plan(scene.con, rules(), now=PLANNED_AT + timedelta(days=31))
    assert [o.party_id for o in plan_operations(scene.con, fixed.plan_id)] == [100]  # sent again
    assert fixed.held_back == ()
    # Party 101 needs nothing any more (its name was fixed and Xero has it): nobody must act on it.
    assert [r["party_id"] for r in rows(scene.con, "select party_id from ledger.error_queue")] == [100]


def test_contact_ids_left_to_write_back_make_a_plan_unless_capsule_has_no_field_to_hold_them(
    scene: Scene,
) -> None:
    scene.wrote_before()
    scene.con.execute(
        "insert into staging.capsule_parties values (5, ?, null, false, null)",
        [XERO_STATE - timedelta(days=1)],
    )
    scene.con.execute(  # a run stopped by Capsule's hourly limit (or killed) before it wrote party 5's
        'insert into ledger.capsule_write_backs (party_id, contact_id, plan_id, state, message, "at")'
        " values (5, 'c-5', 1, 'pending', null, ?)",
        [XERO_STATE],
    )
    plan = create_plan(scene.con, rules(), now=PLANNED_AT)
    assert (plan.status, plan.operations, plan.write_backs) == ("approved", 0, 1)  # not "empty"
    assert "1 ContactID to write back to Capsule" in text_of(render_plan(scene.con, plan))

    scene.con.execute("create schema if not exists raw")
    scene.con.execute("create table raw.capsule_party_field_definitions (id bigint, name varchar)")
    scene.con.execute("insert into raw.capsule_party_field_definitions values (1, 'Customer Since')")
    nowhere = create_plan(scene.con, rules(), now=PLANNED_AT)  # no "Xero Contact ID" field in Capsule
    assert (nowhere.status, nowhere.write_backs) == ("empty", 0)


def test_a_write_the_planned_row_rules_rejected_is_left_out_of_the_plan(scene: Scene) -> None:
    scene.wrote_before()
    a_few_updates(scene, 2)  # parties 100, 101
    scene.con.execute(
        "insert into reconcile.planned_rejects values (101, 'c-1', 'update', 'name_fits_xero', 'name', 'x')"
    )
    plan = create_plan(scene.con, rules(), now=PLANNED_AT)
    assert [o.party_id for o in plan_operations(scene.con, plan.plan_id)] == [100]


# ---- rendering ---------------------------------------------------------------------------------------


@pytest.fixture
def every_kind(scene: Scene) -> Scene:
    scene.wrote_before()
    scene.operation(
        "create",
        123,
        name="Acme [Pty] Ltd",
        email_address="hello@acme.com.au",
        contact_persons='[{"first_name":"Ann","last_name":"Lee","email_address":"ann@acme.com.au"},'
        '{"first_name":"Bo","last_name":"Ng","email_address":null}]',
    )
    scene.xero("c-45", name="Old Name", contact_number="CAP-45")
    scene.operation(
        "update",
        45,
        "c-45",
        name="New Name",
        postal_address='{"lines":["PO Box 1"],"city":"Hobart","region":"TAS","postal_code":"7000","country":"Australia"}',
    )
    scene.xero("c-9", name="Gone Pty Ltd", contact_number="CAP-9")
    scene.operation("archive", 9, "c-9")
    scene.xero("c-7", name="Back Pty Ltd", contact_number="CAP-7")
    scene.operation("restore", 7, "c-7")
    scene.note(45, "c-45", "Capsule update 2026-06-30: opportunity won")
    return scene


def test_the_printed_plan_shows_counts_first_then_each_operation_like_terraform(every_kind: Scene) -> None:
    plan = create_plan(every_kind.con, rules(archives_need_approval=True))
    shown = text_of(render_plan(every_kind.con, plan))
    lines = shown.splitlines()
    assert lines[0] == "Plan 1 · waiting for approval"
    assert "1 archive (approval.archives_need_approval)" in shown and "capsule-xero approve 1" in shown
    counts = lines.index("1 to create, 1 to update, 1 to archive, 1 to restore, 1 History note")
    create = lines.index('+ create CAP-123 "Acme [Pty] Ltd"')
    update = lines.index('~ update CAP-45 "New Name"')
    assert counts < create < update
    assert lines[update + 1 : update + 3] == [
        '    name: "Old Name" → "New Name"',
        "    postal_address: (empty) → PO Box 1, Hobart TAS 7000, Australia",
    ]
    assert '    email_address: "hello@acme.com.au"' in lines
    assert "    contact_persons: Ann Lee <ann@acme.com.au>; Bo Ng" in lines
    assert '- archive CAP-9 "Gone Pty Ltd"' in lines and '↺ restore CAP-7 "Back Pty Ltd"' in lines


def test_the_printed_plan_can_be_limited_and_filtered_by_operation(every_kind: Scene) -> None:
    plan = create_plan(every_kind.con, rules())
    limited = text_of(render_plan(every_kind.con, plan, limit=1))
    assert "+ create CAP-123" in limited and "~ update" not in limited
    assert "… and 3 more operations (4 in all): --limit 4 shows them" in limited
    updates = text_of(render_plan(every_kind.con, plan, operation="update"))
    assert "~ update CAP-45" in updates and "+ create" not in updates and "- archive" not in updates


def test_the_plan_as_json_has_every_operation_with_its_values_whole(every_kind: Scene) -> None:
    plan = create_plan(every_kind.con, rules())
    data = json.loads(json.dumps(plan_json(every_kind.con, plan)))
    assert data["plan_id"] == 1 and data["status"] == "approved"
    assert [o["operation"] for o in data["operations"]] == ["create", "update", "restore", "archive"]
    update = data["operations"][1]
    assert update["before"] == {"name": "Old Name", "postal_address": None}
    assert json.loads(update["after"]["postal_address"])["city"] == "Hobart"
    assert [n["party_id"] for n in data["notes"]] == [45]

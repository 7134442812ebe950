"""Golden tests: on a generated world, every documented case ends in exactly the operation CASES.md
says a correct sync performs, and after the plan is written a rerun plans nothing.

The three-way diff needs what this tool wrote last time. The generator's earlier sync is that
write (CASES.md, "The earlier sync's mapping"), so the fixture reads the contacts as written through
the real path — a sandbox serving them, the Xero extract, staging and ``current_contacts`` — and
records them in ``ledger.written_contacts`` exactly as the writer would.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from capsule_xero.rules.fields import COMPARED_FIELDS
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from reverse_etl.ledger.schema import ensure_ledger
from sandbox.app import Sandbox
from sandbox.generator import Dataset
from sandbox.server import SandboxServer
from transform.sql import build
from transform.stages import reconcile, sql_params

World = tuple[Dataset, duckdb.DuckDBPyConnection, int]


def _written_rows(dataset: Dataset, home: Path) -> list[tuple[Any, ...]]:
    """The earlier sync's contacts in the canonical shape, read the way Xero's are."""
    earlier = dataclasses.replace(dataset, xero_contacts=list(dataset.xero_written_by_previous_sync.values()))
    sandbox = Sandbox(seed=dataset.seed)
    sandbox.load(earlier)
    with SandboxServer(sandbox) as server:
        settings = Settings.from_env(server.env() | {"CAPSULE_XERO_HOME": str(home)})
        login(
            XeroAuth(settings),
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True),
        )
        run_xero_extract(settings)
        extract_capsule(settings)  # the managed groups are named after Capsule's tags
    with duckdb.connect(str(settings.duckdb_path)) as con:
        params = sql_params(Rules())
        ensure_ledger(con)
        build(con, "staging", "capsule_parties", params)
        build(con, "staging", "xero_contacts", params)
        build(con, "reconcile", "current_contacts", params)
        fields = ", ".join(COMPARED_FIELDS)
        query = f"select contact_id, contact_status, {fields} from reconcile.current_contacts"  # noqa: S608 - our own column names
        return con.sql(query).fetchall()


def _copy(con: duckdb.DuckDBPyConnection, to: Path) -> duckdb.DuckDBPyConnection:
    con.execute("checkpoint")
    (path,) = con.sql(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0]
    shutil.copyfile(path, to)
    return duckdb.connect(str(to))


def seed_ledger(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]], written_at: Any) -> None:
    ensure_ledger(con)
    fields = ", ".join(COMPARED_FIELDS)
    values = ", ".join(f"${f}" for f in COMPARED_FIELDS)
    for contact_id, status, *compared in rows:
        party_id = int(compared[0].removeprefix("CAP-"))
        con.execute(
            f"insert into ledger.written_contacts (contact_id, party_id, plan_id, written_at, contact_status, {fields})"  # noqa: S608 - our own column names
            f" values ($contact_id, $party_id, 0, $written_at, $status, {values})",
            {"contact_id": contact_id, "party_id": party_id, "written_at": written_at, "status": status}
            | dict(zip(COMPARED_FIELDS, compared, strict=True)),
        )


@pytest.fixture(scope="module")
def three_way(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Dataset, Any, int]]:
    """The world with the earlier sync recorded in the ledger, reconciled with the default rules."""
    dataset, con, deleted = world
    work = tmp_path_factory.mktemp("golden")
    rows = _written_rows(dataset, work / "earlier")
    copy = _copy(con, work / "world.duckdb")
    seed_ledger(copy, rows, dataset.previous_sync_at)
    reconcile(copy, Rules(), now=dataset.now)
    yield dataset, copy, deleted
    copy.close()


def operations(con: Any) -> dict[int, str]:
    return dict(con.sql("select party_id, operation from reconcile.contact_operations").fetchall())


def parties(dataset: Dataset, *cases: str) -> set[int]:
    """Every Capsule party id the cases produced (a pair's or triple's parties included)."""
    found: set[int] = set()
    for case in cases:
        for ids in dataset.cases[case]:
            found.update(i for i in (ids if isinstance(ids, tuple) else (ids,)) if isinstance(i, int))
    return found


# What CASES.md says a correct sync does with each case ("a correct sync" column), default rules.
EXPECTED_OPERATION = {
    "noop": (
        "synced_in_sync",
        "synced_xero_changed",  # newest wins: Xero's later edit stands, and the settlement is logged
        "conflict_both_changed_xero_later",
        "synced_crossref_missing_in_capsule",  # only the ContactID write-back is owed
        "deleted_party_synced_already_archived",
    ),
    "update": (
        "synced_capsule_changed",
        "conflict_both_changed_capsule_later",
        "synced_org_new_person",
        # Adopting a hand-made contact sets its ContactNumber at least.
        "xero_match_abn",
        "xero_match_abn_formatted_differently",
        "xero_match_email_domain",
        "xero_match_email_person",
        "xero_match_name_exact",
        "xero_match_name_person",
        "name_variant_case",
        "name_variant_legal_suffix",
        "name_variant_ampersand",
        "name_variant_accents",
    ),
    "hold": ("xero_archived_synced_contact",),
    "archive": ("deleted_party_synced", "deleted_party_synced_with_repeating_invoice"),
    "create": (
        "stale_xero_contact_id",
        "free_mail_domain_trap",
        "capsule_only",
        "same_name_different_company",
    ),
    "review": (
        "same_company_twice",
        "xero_same_name_different_company",
        "xero_archived_name_collision",
        "xero_duplicate_abn",
    ),
}
# Cases that never become an operation of their own.
NO_OPERATION = ("deleted_party", "person_with_organisation", "over_long_name")


def expected_operations(dataset: Dataset, deleted: int) -> dict[int, str]:
    expected: dict[int, str] = {}
    for operation, cases in EXPECTED_OPERATION.items():
        for party_id in parties(dataset, *cases):
            assert expected.setdefault(party_id, operation) == operation, f"{party_id} is in two expectations"
    for party_id in parties(dataset, *NO_OPERATION) | {deleted}:
        expected.pop(party_id, None)
    return expected


def test_every_documented_case_ends_in_the_operation_cases_md_gives_it(three_way: World) -> None:
    dataset, con, deleted = three_way
    actual = operations(con)
    expected = expected_operations(dataset, deleted)
    wrong = {
        p: (want, actual.get(p, "no operation")) for p, want in expected.items() if actual.get(p) != want
    }
    assert wrong == {}
    for party_id in parties(dataset, *NO_OPERATION) | {deleted}:
        assert party_id not in actual


def test_the_plan_counts_are_exactly_what_the_cases_imply(three_way: World) -> None:
    dataset, con, deleted = three_way
    expected = Counter(expected_operations(dataset, deleted).values())
    actual = Counter(op for op in operations(con).values())
    # Every operation belongs to a documented case: nothing planned that the cases do not explain.
    assert actual == expected


def test_conflicts_are_settled_by_the_newest_side_and_logged_with_both_timestamps(three_way: World) -> None:
    dataset, con, _ = three_way
    rows = con.sql(
        "select party_id, field, winner, capsule_updated_at, xero_updated_at from reconcile.conflict_settlements"
        " where field = 'email_address'"
    ).fetchall()
    winners = {party_id: winner for party_id, _, winner, _, _ in rows}
    assert all(capsule_at is not None and xero_at is not None for *_, capsule_at, xero_at in rows)
    for party_id in parties(dataset, "conflict_both_changed_xero_later"):
        assert winners[party_id] == "xero"
    for party_id in parties(dataset, "conflict_both_changed_capsule_later"):
        assert winners[party_id] == "capsule"


def test_an_archive_of_a_contact_that_owes_money_is_planned_naming_the_balance_for_the_approver(
    three_way: World,
) -> None:
    dataset, con, _ = three_way
    archives = {
        party_id: (reason, expect_refusal)
        for party_id, reason, expect_refusal in con.sql(
            "select party_id, reason, expect_refusal from reconcile.contact_operations where operation = 'archive'"
        ).fetchall()
    }
    # The balance does not block an archive (Xero help); the repeating invoice that does is out of sight.
    for party_id in parties(dataset, "deleted_party_synced_with_repeating_invoice"):
        reason, expect_refusal = archives[party_id]
        assert "outstanding balance of" in reason and "Xero keeps" in reason and not expect_refusal
    for party_id in parties(dataset, "deleted_party_synced"):
        assert "outstanding balance" not in archives[party_id][0]


@pytest.mark.parametrize("policy", ["newest_wins", "capsule_wins", "xero_wins", "manual"])
def test_after_the_plan_is_written_a_rerun_plans_nothing(
    three_way: World, tmp_path: Path, policy: str
) -> None:
    from tests.transform.test_diff import Scene, simulate_write
    from transform.stages import build_plan_tables

    dataset, con, _ = three_way
    copy = _copy(con, tmp_path / "rerun.duckdb")
    params = sql_params(Rules()) | {"conflict_policy": policy}
    build_plan_tables(copy, params)
    simulate_write(Scene(copy), written_at=dataset.now)
    build_plan_tables(copy, params)
    left = Counter(op for op in operations(copy).values())
    assert set(left) <= {"noop", "hold", "review"}, left
    copy.close()

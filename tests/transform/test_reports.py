"""Reports (schema ``reports``) on the generated world: each view lists what CASES.md says a person should see.

Staging, matching and the quarantine are the real ones, built on the shared ``world``; the diff tables
(scope, operations, conflict settlements, pre-flight problems) are small hand-made tables in the
shape ``transform/sql/reconcile/README.md`` gives them, so each report is checked against known input.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from capsule_xero.rules.model import Rules
from sandbox.generator import Dataset
from transform.planned_rejects import build_planned_rejects
from transform.quarantine import build_quarantine
from transform.reports import (
    MONEY_TABLES,
    REPORTS,
    REPORTS_DIR,
    ReportUnavailable,
    base_tables,
    create_report_views,
    read_report,
)
from transform.rules_sql import apply_transforms, build_sync_scope
from transform.sql import build
from transform.stages import build_plan_tables, capsule_creates, capsule_money, sql_params

# The reports that read Xero's money documents: a world with money off cannot build them.
NEEDS_MONEY = {name for name in REPORTS if set(base_tables(name)) & set(MONEY_TABLES)}

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def copy_of(
    con: duckdb.DuckDBPyConnection, folder: Path, *, staged_only: bool = True
) -> duckdb.DuckDBPyConnection:
    """A private copy of the shared world's file, so hand-made tables never leak into other tests."""
    con.execute("checkpoint")
    ((path,),) = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()
    target = folder / "world.duckdb"
    shutil.copy(path, target)
    copy = duckdb.connect(str(target))
    if not staged_only:
        return copy
    # Other modules may have built later tables on the shared world; start from staging + matches only.
    later = copy.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_type = 'BASE TABLE' and (table_schema = 'reconcile' and table_name <> 'contact_matches'"
        " or table_schema = 'staging' and table_name not in ('capsule_parties', 'xero_contacts'))"
    ).fetchall()
    for (table,) in later:
        copy.execute(f"drop table {table}")
    copy.execute("drop schema if exists reports cascade")
    return copy


def make_table(con: duckdb.DuckDBPyConnection, name: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    con.execute(f"create schema if not exists {name.split('.')[0]}")
    con.execute(f"create or replace table {name} ({columns})")
    for row in rows:
        con.table(name).insert(row)


def report(con: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    columns, rows = read_report(con, name)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def planned_creates(dataset: Dataset, deleted: int) -> list[int]:
    return [party_id for party_id in dataset.cases["capsule_only"] if party_id != deleted][:3]


def build_diff_tables(con: duckdb.DuckDBPyConnection, dataset: Dataset, deleted: int) -> None:
    """Hand-made scope, operations, settlements and pre-flight problems drawn from the generator's cases."""
    con.execute(  # a one-way sync: nothing Xero holds is kept from Capsule
        "create or replace table reconcile.pull_quarantine (source varchar, record_id varchar, party_id bigint,"
        " rule varchar, field varchar, value varchar, detail varchar, effect varchar)"
    )
    con.execute(
        "create or replace table reconcile.sync_scope as"
        " select party_id, not list_contains($staff, party_id) as in_scope,"
        " case when list_contains($staff, party_id) then 'tag Staff is excluded' end as scope_reason"
        " from staging.capsule_parties",
        {"staff": dataset.cases["staff_party"]},
    )
    operations = [
        ("create", party_id, None, f"CAP-{party_id}", f"Sent name {party_id}", ["name"], "creates a contact")
        for party_id in planned_creates(dataset, deleted)
    ]
    operations += [
        ("update", party_id, contact_id, f"CAP-{party_id}", None, ["email_address"], "updates email_address")
        for party_id, contact_id in dataset.cases["synced_capsule_changed"]
    ]
    operations += [
        ("archive", tombstone, contact_id, f"CAP-{tombstone}", None, [], "deleted in Capsule")
        for tombstone, contact_id in dataset.cases["deleted_party_synced"]
    ]
    operations += [
        ("noop", party_id, contact_id, f"CAP-{party_id}", None, [], "in sync")
        for party_id, contact_id in dataset.cases["synced_in_sync"][:2]
    ]
    operations += [
        ("hold", party_id, contact_id, f"CAP-{party_id}", None, [], "archived in Xero by someone else")
        for party_id, contact_id in dataset.cases["xero_archived_synced_contact"]
    ]
    make_table(
        con,
        "reconcile.contact_operations",
        "operation varchar, party_id bigint, contact_id varchar, contact_number varchar, name varchar,"
        " changed_fields varchar[], reason varchar",
        operations,
    )
    con.execute(
        "create or replace table reconcile.desired_contacts as"
        " select party_id, 'Desired ' || display_name as name from staging.capsule_parties"
        " where list_contains($ids, party_id) and not is_deleted",
        {"ids": [row[1] for row in operations]},
    )
    both_changed = (
        ("conflict_both_changed_xero_later", "xero", "keep", NOW, NOW + timedelta(hours=1)),
        ("conflict_both_changed_capsule_later", "capsule", "write", NOW + timedelta(hours=1), NOW),
    )
    settlements = [
        (party_id, contact_id, "email_address", "both_changed", "c@example.com", "x@example.com",
         capsule_at, xero_at, "newest_wins", winner, decision, f"changed on both sides; {winner} is newer")
        for case, winner, decision, capsule_at, xero_at in both_changed
        for party_id, contact_id in dataset.cases[case]
    ]  # fmt: skip
    manual_party, manual_contact = dataset.cases["synced_xero_changed"][0]
    settlements.append(
        (manual_party, manual_contact, "phone_default", "xero_changed", "+61298765432", None, NOW, NOW,
         "manual", "person", "review", "changed in Xero only since this tool last wrote it; a person decides")
    )  # fmt: skip
    make_table(
        con,
        "reconcile.conflict_settlements",
        "party_id bigint, contact_id varchar, field varchar, conflict varchar, capsule_value varchar,"
        " xero_value varchar, capsule_updated_at timestamptz, xero_updated_at timestamptz, policy varchar,"
        " winner varchar, decision varchar, reason varchar",
        settlements,
    )
    (review_party, taken), (suffix_party, _) = dataset.cases["xero_same_name_different_company"][:2]
    make_table(
        con,
        "reconcile.preflight_problems",
        "party_id bigint, contact_id varchar, problem varchar, detail varchar, settlement varchar",
        [
            (review_party, None, "name_taken", f"Name is taken by the active Xero contact {taken}", "review"),
            (suffix_party, None, "name_taken", "Name is taken: sent with a suffix", "suffix"),
            (
                dataset.cases["org_more_than_five_people"][0],
                None,
                "more_than_five_people",
                "7 people",
                "note",
            ),
        ],
    )
    make_table(
        con,
        "reconcile.planned_rejects",
        "party_id bigint, contact_id varchar, operation varchar, rule varchar, field varchar, value varchar",
        [
            (
                dataset.cases["capsule_only"][1],
                None,
                "create",
                "email_address_fits_xero",
                "email_address",
                "a@b.co",
            )
        ],
    )
    # One-way (the default rules): no Xero contact is held back from a create in Capsule.
    one_way = {"two_way": False, "create_in_capsule": "none", "contact_number_prefix": "CAP-"}
    for model in ("capsule_create_candidates", "capsule_create_reviews"):
        build(con, "reconcile", model, one_way)
    # No money field turned on (the default rules): the money tables are built, empty.
    capsule_money(con, Rules(), sql_params(Rules(), NOW))


@pytest.fixture(scope="module")
def reported(
    world: tuple[Dataset, duckdb.DuckDBPyConnection, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Dataset, duckdb.DuckDBPyConnection, int]]:
    dataset, shared, deleted = world
    con = copy_of(shared, tmp_path_factory.mktemp("reports"))
    build(con, "reconcile", "xero_duplicates")
    build_quarantine(con)
    build_diff_tables(con, dataset, deleted)
    # Every report but the money ones, whose Xero documents this world (money off) never read.
    unavailable = create_report_views(con)
    assert set(unavailable) == NEEDS_MONEY
    assert all("money.read" in reason for reason in unavailable.values()), unavailable
    yield dataset, con, deleted
    con.close()


def test_every_report_in_the_catalogue_has_its_view_file_and_every_view_file_is_in_the_catalogue() -> None:
    assert sorted(path.stem for path in REPORTS_DIR.glob("*.sql")) == sorted(REPORTS)
    assert all(REPORTS.values())


def test_the_xero_duplicates_model_pairs_exactly_the_contacts_the_generator_made_to_share_an_abn(
    reported: tuple[Dataset, duckdb.DuckDBPyConnection, int],
) -> None:
    dataset, con, _ = reported
    groups = con.sql(
        "select any_value(duplicate_rule), list(contact_id order by contact_id) from reconcile.xero_duplicates"
        " group by duplicate_group"
    ).fetchall()
    expected = {("abn", tuple(sorted(pair))) for _, *pair in dataset.cases["xero_duplicate_abn"]}
    assert {(rule, tuple(members)) for rule, members in groups} == expected
    names = dict(con.sql("select contact_id, name from staging.xero_contacts").fetchall())
    for contact_id, others, reason in con.sql(
        "select contact_id, other_contact_ids, reason from reconcile.xero_duplicates"
    ).fetchall():
        assert len(others) == 1 and names[others[0]] in reason and names[contact_id] not in reason


def test_xero_duplicates_are_one_group_per_business_named_after_the_strongest_rule_and_skip_archived(
    tmp_path: Path,
) -> None:
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    make_table(
        con,
        "staging.xero_contacts",
        "contact_id varchar, name varchar, abn varchar, email varchar, folded_name varchar, is_archived boolean",
        [
            ("a", "Acme Pty Ltd", "51824753556", "accounts@acme.com.au", "acme", False),
            ("b", "Acme Holdings", "51824753556", "accounts@acme.com.au", "acme holdings", False),
            ("c", "Acme (old)", "51824753556", None, "acme old", True),
            ("d", "Kumar & Stone Vets", None, None, "kumar and stone vets", False),
            ("e", "KUMAR AND STONE VETS", None, "kim@kumarstone.com.au", "kumar and stone vets", False),
            ("f", "Sam Lee", None, "sam@gmail.com", "sam lee", False),
            ("g", "Samantha Lee", None, "sam@gmail.com", "samantha lee", False),
            ("h", "Lonely Pty Ltd", "53004085616", "hi@lonely.com.au", "lonely", False),
        ],
    )
    build(con, "reconcile", "xero_duplicates")
    rows = {
        contact: (group, rule, keys, others, reason)
        for contact, group, rule, keys, others, reason in con.sql(
            "select contact_id, duplicate_group, duplicate_rule, shared_keys, other_contact_ids, reason"
            " from reconcile.xero_duplicates"
        ).fetchall()
    }
    assert set(rows) == {"a", "b", "d", "e", "f", "g"}
    assert rows["a"][1:4] == ("abn", ["abn", "email"], ["b"]) and rows["a"][0] == rows["b"][0]
    assert "ABN 51824753556 (and e-mail)" in rows["a"][4] and "Acme Holdings (b)" in rows["a"][4]
    assert rows["d"][1:4] == ("name", ["name"], ["e"]) and "KUMAR AND STONE VETS" in rows["d"][4]
    assert rows["f"][1:4] == ("email", ["email"], ["g"]) and "e-mail sam@gmail.com" in rows["f"][4]
    assert len({group for group, *_ in rows.values()}) == 3


def test_only_in_xero_lists_contacts_no_capsule_record_accounts_for(
    reported: tuple[Dataset, duckdb.DuckDBPyConnection, int],
) -> None:
    dataset, con, _ = reported
    rows = report(con, "only_in_xero")
    listed = {row["contact_id"]: row for row in rows}
    assert len(listed) == len(rows)
    for case in (
        "xero_only",
        "xero_only_archived",
        "xero_foreign_contact_number",
        "xero_orphan_contact_number",
    ):
        assert set(dataset.cases[case]) <= set(listed), case
    assert {listed[c]["contact_status"] for c in dataset.cases["xero_only_archived"]} == {"ARCHIVED"}
    accounted_for = {
        contact_id
        for case in (
            "synced_in_sync",
            "synced_crossref_missing_in_capsule",
            "xero_match_abn",
            "xero_match_name_exact",
        )
        for _, contact_id in dataset.cases[case]
    }
    accounted_for |= {contact_id for _, contact_id in dataset.cases["deleted_party_synced"]}  # being archived
    assert not accounted_for & set(listed)
    # The second contact of a Xero duplicate pair is no party's candidate, so it is listed, marked as such.
    duplicates = {c for _, *pair in dataset.cases["xero_duplicate_abn"] for c in pair}
    assert len(duplicates & set(listed)) == len(dataset.cases["xero_duplicate_abn"])
    assert all(listed[c]["xero_duplicate_group"] for c in duplicates & set(listed))


def test_only_in_capsule_lists_new_in_scope_parties_with_what_the_plan_does_and_what_is_quarantined(
    reported: tuple[Dataset, duckdb.DuckDBPyConnection, int],
) -> None:
    dataset, con, deleted = reported
    listed = {row["party_id"]: row for row in report(con, "only_in_capsule")}
    capsule_only = set(dataset.cases["capsule_only"]) - {deleted}
    assert capsule_only - set(dataset.cases["staff_party"]) <= set(listed)
    assert deleted not in listed and not set(dataset.cases["staff_party"]) & set(listed)
    new = {
        p
        for (p,) in con.sql("select party_id from reconcile.contact_matches where outcome = 'new'").fetchall()
    }
    assert set(listed) == new - set(dataset.cases["staff_party"])
    created = {p for p, row in listed.items() if row["planned_operation"] == "create"}
    assert created == set(planned_creates(dataset, deleted)) & set(listed) != set()
    quarantined = dict(
        con.sql(
            "select cast(record_id as bigint), string_agg(distinct rule, ', ' order by rule)"
            " from staging.quarantine group by record_id"
        ).fetchall()
    )
    assert {p: row["quarantined_rules"] for p, row in listed.items() if row["quarantined_rules"]} == {
        p: rules for p, rules in quarantined.items() if p in listed
    }
    assert any(row["quarantined_rules"] for row in listed.values())


def test_duplicates_list_capsule_parties_sharing_an_abn_and_xero_contacts_that_look_alike(
    reported: tuple[Dataset, duckdb.DuckDBPyConnection, int],
) -> None:
    dataset, con, _ = reported
    rows = report(con, "duplicates")
    groups: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        groups.setdefault((row["source"], row["duplicate_group"]), set()).add(row["record_id"])
        assert row["reason"].startswith("same ") and row["other_ids"]
    capsule = {frozenset(ids) for (source, _), ids in groups.items() if source == "capsule"}
    xero = {frozenset(ids) for (source, _), ids in groups.items() if source == "xero"}
    assert capsule == {frozenset(map(str, pair)) for pair in dataset.cases["same_company_twice"]}
    assert xero == {frozenset(pair) for _, *pair in dataset.cases["xero_duplicate_abn"]}


def test_the_review_queue_holds_every_undecided_match_duplicate_manual_conflict_and_review_problem(
    reported: tuple[Dataset, duckdb.DuckDBPyConnection, int],
) -> None:
    dataset, con, _ = reported
    rows = report(con, "review_queue")
    assert all(row["reason"] for row in rows)
    by_kind: dict[str, set[Any]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], set()).add(
            row["party_id"] if row["kind"] != "xero_duplicate" else row["contact_id"]
        )
    in_review = {
        p
        for (p,) in con.sql(
            "select party_id from reconcile.contact_matches where outcome = 'review'"
        ).fetchall()
    }
    assert by_kind["match"] | by_kind["capsule_duplicate"] == in_review
    assert by_kind["capsule_duplicate"] == {p for pair in dataset.cases["same_company_twice"] for p in pair}
    assert {p for p, *_ in dataset.cases["xero_duplicate_abn"]} <= by_kind["match"]
    assert by_kind["xero_duplicate"] == {c for _, *pair in dataset.cases["xero_duplicate_abn"] for c in pair}
    manual_party, _ = dataset.cases["synced_xero_changed"][0]
    assert by_kind["conflict"] == {manual_party}
    (conflict,) = [row for row in rows if row["kind"] == "conflict"]
    assert "phone_default" in conflict["reason"] and "+61298765432" in conflict["reason"]
    review_party, suffix_party = (p for p, _ in dataset.cases["xero_same_name_different_company"][:2])
    assert by_kind["preflight"] == {review_party} and suffix_party not in by_kind["preflight"]
    assert by_kind["held"] == {p for p, _ in dataset.cases["xero_archived_synced_contact"]}
    assert by_kind["planned_reject"] == {dataset.cases["capsule_only"][1]}
    assert set(by_kind) == {
        "match", "capsule_duplicate", "xero_duplicate", "conflict", "preflight", "planned_reject", "held",
    }  # fmt: skip


def test_conflicts_show_both_values_both_timestamps_and_the_side_that_won(
    reported: tuple[Dataset, duckdb.DuckDBPyConnection, int],
) -> None:
    dataset, con, _ = reported
    rows = {row["party_id"]: row for row in report(con, "conflicts")}
    for case, winner in (
        ("conflict_both_changed_xero_later", "xero"),
        ("conflict_both_changed_capsule_later", "capsule"),
    ):
        for party_id, contact_id in dataset.cases[case]:
            row = rows[party_id]
            assert (row["contact_id"], row["winner"], row["field"]) == (contact_id, winner, "email_address")
            newer = row["xero_updated_at"] > row["capsule_updated_at"]
            assert newer == (winner == "xero") and row["name"]
    manual_party, _ = dataset.cases["synced_xero_changed"][0]
    assert (rows[manual_party]["winner"], rows[manual_party]["policy"]) == ("person", "manual")
    assert {row["conflict"] for row in rows.values()} == {"both_changed", "xero_changed"}


def test_data_quality_counts_quarantined_records_by_rule_and_quarantine_lists_every_one(
    reported: tuple[Dataset, duckdb.DuckDBPyConnection, int],
) -> None:
    _, con, _ = reported
    quarantine = con.sql("select record_id, rule, field from staging.quarantine").fetchall()
    summary = report(con, "data_quality")
    assert {(row["rule"], row["field"]): row["records"] for row in summary} == {
        (rule, field): len({r for r, q, f in quarantine if (q, f) == (rule, field)})
        for _, rule, field in quarantine
    }
    for row in summary:
        sample = row["sample_record_ids"].split(", ")
        assert 1 <= len(sample) <= 5 and {(s, row["rule"]) for s in sample} <= {
            (r, q) for r, q, _ in quarantine
        }
        assert row["effect"]
    assert [row["records"] for row in summary] == sorted((row["records"] for row in summary), reverse=True)
    every = report(con, "quarantine")
    assert sorted((row["record_id"], row["rule"], row["field"]) for row in every) == sorted(quarantine)
    assert all(row["name"] for row in every if row["rule"] != "name_present")


def test_the_pending_diff_counts_operations_and_pending_changes_lists_each_change_with_its_fields_and_reason(
    reported: tuple[Dataset, duckdb.DuckDBPyConnection, int],
) -> None:
    dataset, con, _ = reported
    operations = con.sql(
        "select operation, party_id, contact_id from reconcile.contact_operations"
    ).fetchall()
    counts = Counter(operation for operation, *_ in operations)
    diff = report(con, "pending_diff")
    assert [(row["operation"], row["records"]) for row in diff] == [
        (operation, counts[operation]) for operation in ("create", "update", "archive", "hold", "noop")
    ]
    changes = report(con, "pending_changes")
    assert sorted((row["operation"], row["party_id"], row["contact_id"] or "") for row in changes) == sorted(
        (operation, party_id, contact_id or "")
        for operation, party_id, contact_id in operations
        if operation != "noop"
    )
    order = ["create", "update", "restore", "archive", "review", "hold"]
    ranks = [order.index(row["operation"]) for row in changes]
    assert ranks == sorted(ranks) and all(row["reason"] for row in changes)
    desired = dict(con.sql("select party_id, name from reconcile.desired_contacts").fetchall())
    xero = dict(con.sql("select contact_id, name from staging.xero_contacts").fetchall())
    for row in changes:
        if row["operation"] == "create":  # the name the plan sends
            assert (row["name"], row["changed_fields"]) == (f"Sent name {row['party_id']}", "name")
        elif row["operation"] == "update":  # nothing new to send as the name: the desired one
            assert (row["name"], row["changed_fields"]) == (desired[row["party_id"]], "email_address")
        elif row["operation"] == "archive":  # a deleted party has no desired contact: the Xero one
            assert row["name"] == xero[row["contact_id"]]
    tombstones = {tombstone for tombstone, _ in dataset.cases["deleted_party_synced"]}
    assert {row["party_id"] for row in changes if row["operation"] == "archive"} == tombstones


def test_out_of_scope_lists_the_parties_the_rules_keep_out_with_the_reason(
    reported: tuple[Dataset, duckdb.DuckDBPyConnection, int],
) -> None:
    dataset, con, _ = reported
    rows = report(con, "out_of_scope")
    assert {row["party_id"] for row in rows} == set(dataset.cases["staff_party"])
    assert {row["scope_reason"] for row in rows} == {"tag Staff is excluded"} and all(
        row["name"] for row in rows
    )


def test_the_reconciliation_summary_agrees_with_the_matches_and_the_detailed_reports(
    reported: tuple[Dataset, duckdb.DuckDBPyConnection, int],
) -> None:
    dataset, con, _ = reported
    summary = {row["category"]: row for row in report(con, "reconciliation")}
    matched = dict(
        con.sql(
            "select match_rule, count(*) from reconcile.contact_matches where outcome = 'matched' group by all"
        ).fetchall()
    )
    for rule in ("cross_reference", "contact_number", "merged", "abn", "email", "email_domain", "name"):
        assert summary[f"matched by {rule}"]["records"] == matched.get(rule, 0), rule
    only_in_xero = report(con, "only_in_xero")
    duplicates = report(con, "duplicates")
    quarantined = {r for (r,) in con.sql("select record_id from staging.quarantine").fetchall()}
    expected = {
        "new: only in Capsule": len(report(con, "only_in_capsule")),
        "only in Xero (active)": sum(row["contact_status"] != "ARCHIVED" for row in only_in_xero),
        "only in Xero (archived)": sum(row["contact_status"] == "ARCHIVED" for row in only_in_xero),
        "Capsule duplicates": sum(row["source"] == "capsule" for row in duplicates),
        "Xero duplicates": sum(row["source"] == "xero" for row in duplicates),
        "conflicts settled": len(report(con, "conflicts")),
        "review queue": len(report(con, "review_queue")),
        "out of scope": len(report(con, "out_of_scope")),
        "quarantined": len(quarantined),
    }
    assert {category: summary[category]["records"] for category in expected} == expected
    assert all(count > 0 for count in expected.values())
    kinds = Counter(row["kind"] for row in report(con, "review_queue"))
    assert all(f"{kind}: {count}" in summary["review queue"]["detail"] for kind, count in kinds.items())
    assert "1 left to a person" in summary["conflicts settled"]["detail"]
    both_changed = sum(
        len(dataset.cases[case])
        for case in ("conflict_both_changed_xero_later", "conflict_both_changed_capsule_later")
    )
    assert f"both_changed: {both_changed}, xero_changed: 1" in summary["conflicts settled"]["detail"]


def test_reports_wait_for_their_tables_and_say_which_a_sync_must_build_first(
    world: tuple[Dataset, duckdb.DuckDBPyConnection, int], tmp_path: Path
) -> None:
    dataset, shared, deleted = world
    con = copy_of(shared, tmp_path)
    build(con, "reconcile", "xero_duplicates")
    unavailable = create_report_views(con)
    # billing_review reads only the ledger (the newest plan's documents in review).
    assert set(unavailable) == set(REPORTS) - {"duplicates", "billing_review"}
    assert "reconcile.contact_operations" in unavailable["pending_diff"]
    assert "run `capsule-xero sync` first" in unavailable["pending_diff"]
    with pytest.raises(ReportUnavailable, match=r"reconcile\.contact_operations"):
        read_report(con, "pending_diff")
    assert report(con, "duplicates")
    build_quarantine(con)
    build_diff_tables(con, dataset, deleted)
    assert set(create_report_views(con)) == NEEDS_MONEY  # this world reads no money
    assert report(con, "pending_diff")
    con.execute("drop table reconcile.contact_operations")
    assert "reconcile.contact_operations" in create_report_views(con)["reconciliation"]
    with pytest.raises(ReportUnavailable, match=r"reconcile\.contact_operations"):
        read_report(con, "reconciliation")
    assert report(con, "conflicts")
    con.close()


def test_the_reports_read_the_real_plan_and_account_for_every_operation_a_person_must_see(
    world: tuple[Dataset, duckdb.DuckDBPyConnection, int], tmp_path: Path
) -> None:
    dataset, shared, _ = world
    con = copy_of(shared, tmp_path, staged_only=False)
    rules = Rules()
    build_sync_scope(con, rules)
    apply_transforms(con, rules)
    build_plan_tables(con, rules.sql_params())
    build_planned_rejects(con)
    build(con, "reconcile", "xero_duplicates")
    capsule_creates(con, rules, rules.sql_params())
    build(con, "reconcile", "pull_quarantine", rules.sql_params())
    assert set(create_report_views(con)) == NEEDS_MONEY
    operations = con.sql(
        "select operation, party_id, contact_id from reconcile.contact_operations"
    ).fetchall()
    assert sum(row["records"] for row in report(con, "pending_diff")) == len(operations)
    queued = {row["party_id"] for row in report(con, "review_queue")}
    assert {p for operation, p, _ in operations if operation in ("review", "hold")} <= queued
    new = {row["party_id"] for row in report(con, "only_in_capsule")}
    assert {p for operation, p, _ in operations if operation == "create"} <= new
    only_in_xero = {row["contact_id"] for row in report(con, "only_in_xero")}
    assert not only_in_xero & {c for _, _, c in operations if c is not None}
    assert set(dataset.cases["xero_only"]) <= only_in_xero
    con.close()

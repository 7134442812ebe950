"""The Capsule extract against the sandbox: full load, no-change rerun, edits, lost folder, full refresh."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from capsule_xero.settings import Settings
from pipelines.capsule import (
    CapsuleExtract,
    after_load,
    before_load,
    capsule_pipeline,
    capsule_source,
    extract_capsule,
)
from pipelines.capsule.settings import SINCE_OVERLAP_SECONDS
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset
from sandbox.server import SandboxServer
from tests.pipelines.capsule.conftest import Loaded, capsule_calls, pages, query

UTC_TEXT = "strftime({} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')"
DELETED_PARTIES = f"select id, {UTC_TEXT.format('deleted_at')} from raw.capsule_deleted_parties"  # noqa: S608
V2 = "/api/v2"


def _ref(record: dict[str, Any], key: str) -> int | None:
    ref = record.get(key)
    return ref.get("id") if isinstance(ref, dict) else None


def _field_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _children(settings: Settings, parent: str, child: str, columns: str) -> dict[int, list[tuple[Any, ...]]]:
    rows = query(
        settings,
        f"select p.id, {columns} from raw.{parent} p "  # noqa: S608 (test constants)
        f"join raw.{parent}__{child} c on c._dlt_parent_id = p._dlt_id",
    )
    found: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(tuple(row[1:]))
    return {k: sorted(v, key=repr) for k, v in found.items()}


def _first_run_calls(state: Loaded) -> int:
    lists = [state.parties, state.opportunities, state.kases, state.tasks]
    deleted = [len(state.deleted[k]) for k in ("parties", "opportunities", "kases")]
    return 3 + sum(pages(len(x)) for x in lists) + sum(pages(n) for n in deleted)


def _cursor(records: dict[int, dict[str, Any]], key: str = "updatedAt") -> datetime:
    return max(_instant(r[key]) for r in records.values())


def _instant(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _overlap(records: dict[int, dict[str, Any]]) -> set[int]:
    """Ids a rerun reads again because of the overlap before the cursor (docs/api-facts.md#capsule-incremental-reads-and-deletions)."""
    start = _cursor(records) - timedelta(seconds=SINCE_OVERLAP_SECONDS)
    return {i for i, r in records.items() if _instant(r["updatedAt"]) > start}


def _latest_load(settings: Settings, table: str) -> set[int]:
    rows = query(
        settings,
        f"select id from raw.{table} where _dlt_load_id = (select max(_dlt_load_id) from raw.{table})",  # noqa: S608
    )
    return {r[0] for r in rows}


def test_a_full_load_matches_the_sandbox_record_for_record(
    big_world: Dataset,
    load_world: Callable[[Dataset], None],
    extract: Callable[..., CapsuleExtract],
    settings: Settings,
    capsule_state: Callable[[], Loaded],
    ctl: CapsuleControl,
) -> None:
    load_world(big_world)
    state = capsule_state()
    seq = ctl.last_seq()
    result = extract()

    assert result.calls == len(capsule_calls(ctl, seq)) == _first_run_calls(state)
    assert result.schema_changes == []  # the first load is the baseline, not drift

    parties = query(
        settings,
        "select id, type, name, first_name, last_name, job_title, owner__id, organisation__id, "  # noqa: S608
        f"{UTC_TEXT.format('updated_at')} from raw.capsule_parties order by id",
    )
    assert parties == [
        (
            p["id"],
            p["type"],
            p.get("name"),
            p.get("firstName"),
            p.get("lastName"),
            p.get("jobTitle"),
            _ref(p, "owner"),
            _ref(p, "organisation"),
            p["updatedAt"],
        )
        for _, p in sorted(state.parties.items())
    ]
    nested = {
        "tags": ("c.id", lambda p: [(t["id"],) for t in p.get("tags") or []]),
        "fields": (
            "c.definition__id, c.value",
            lambda p: [(f["definition"]["id"], _field_text(f["value"])) for f in p.get("fields") or []],
        ),
        "email_addresses": ("c.address", lambda p: [(e["address"],) for e in p["emailAddresses"]]),
        "phone_numbers": ("c.number", lambda p: [(n["number"],) for n in p["phoneNumbers"]]),
        "addresses": ("c.id", lambda p: [(a["id"],) for a in p["addresses"]]),
        "websites": ("c.id", lambda p: [(w["id"],) for w in p["websites"]]),
    }
    for child, (columns, expected_of) in nested.items():
        stored = _children(settings, "capsule_parties", child, columns)
        expected = {i: sorted(expected_of(p), key=repr) for i, p in state.parties.items() if expected_of(p)}
        assert stored == expected, child

    for table, records in (
        ("capsule_opportunities", state.opportunities),
        ("capsule_kases", state.kases),
        ("capsule_tasks", state.tasks),
    ):
        stored = query(settings, f"select id, {UTC_TEXT.format('updated_at')} from raw.{table} order by id")  # noqa: S608
        assert stored == [(i, r["updatedAt"]) for i, r in sorted(records.items())], table
    statuses = Counter(r[0] for r in query(settings, "select status from raw.capsule_tasks"))
    assert statuses == Counter(t["status"] for t in state.tasks.values())
    assert len(statuses) > 1  # not only OPEN: status=open,completed,pending was asked for

    for kind in ("parties", "opportunities", "kases"):
        stored = query(
            settings,
            f"select id, {UTC_TEXT.format('deleted_at')}, restricted from raw.capsule_deleted_{kind} order by id",  # noqa: S608
        )
        expected = [(t["id"], t["deletedAt"], False) for t in state.deleted[kind]]
        expected += [(r["id"], None, True) for r in state.restricted[kind]]
        assert stored == sorted(expected), kind
    assert query(settings, "select count(*) from raw.capsule_deleted_parties")[0][0] > 0

    assert {r[0] for r in query(settings, "select id from raw.capsule_users")} == {
        u["id"] for u in state.users
    }
    assert {r[0] for r in query(settings, "select id from raw.capsule_party_field_definitions")} == {
        d["id"] for d in state.definitions
    }
    assert {r[0] for r in query(settings, "select id from raw.capsule_tags")} == {t["id"] for t in state.tags}


def test_a_rerun_without_changes_reads_one_page_per_cursor_and_the_lists_that_have_none(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    extract: Callable[..., CapsuleExtract],
    settings: Settings,
    capsule_state: Callable[[], Loaded],
    ctl: CapsuleControl,
) -> None:
    load_world(small_world)
    extract()
    state = capsule_state()
    seq = ctl.last_seq()
    result = extract()
    calls = capsule_calls(ctl, seq)

    # parties, opportunities, kases and the three deleted feeds: one page each, with `since`;
    # users, definitions and tags: one page each (no `since` in the API, but small);
    # tasks: every page, because Capsule has no `since` on tasks (docs/api-facts.md#capsule-incremental-reads-and-deletions).
    expected = {
        f"{V2}/parties": 1,
        f"{V2}/opportunities": 1,
        f"{V2}/kases": 1,
        f"{V2}/parties/deleted": 1,
        f"{V2}/opportunities/deleted": 1,
        f"{V2}/kases/deleted": 1,
        f"{V2}/users": 1,
        f"{V2}/parties/fields/definitions": 1,
        f"{V2}/parties/tags": 1,
        f"{V2}/tasks": pages(len(state.tasks)),
    }
    assert Counter(c["path"] for c in calls) == expected
    assert result.calls == len(calls) == 9 + pages(len(state.tasks))
    with_cursor = {f"{V2}/{k}" for k in ("parties", "opportunities", "kases")}
    with_cursor |= {f"{p}/deleted" for p in with_cursor}
    assert all("since=" in c["query"] for c in calls if c["path"] in with_cursor)
    assert all(c["status"] == 200 for c in calls)
    # only the records inside the overlap window come again (and merge onto themselves)
    assert result.row_counts.get("capsule_parties", 0) == len(_overlap(state.parties))
    assert query(settings, "select count(*), count(distinct id) from raw.capsule_parties")[0] == (
        len(state.parties),
        len(state.parties),
    )


def test_edits_and_deletions_in_capsule_arrive_and_nothing_else_does(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    extract: Callable[..., CapsuleExtract],
    settings: Settings,
    capsule_state: Callable[[], Loaded],
    ctl: CapsuleControl,
) -> None:
    load_world(small_world)
    extract()
    before = capsule_state()
    overlap = _overlap(before.parties)

    people = [p for p in before.parties.values() if p["type"] == "person" and p["phoneNumbers"]]
    renamed, rephoned = people[0], people[1]
    ctl.update_party(renamed["id"], {"firstName": "Renamed", "lastName": "In Capsule"})
    dropped_phone = rephoned["phoneNumbers"][0]
    ctl.update_party(rephoned["id"], {"phoneNumbers": [{"id": dropped_phone["id"], "_delete": True}]})
    created = ctl.create_party({"type": "organisation", "name": "Brand New Joinery Pty Ltd"})
    org = next(
        p
        for p in before.parties.values()
        if p["type"] == "organisation"
        and any(_ref(q, "organisation") == p["id"] for q in before.parties.values())
        and p["id"] not in {renamed["id"], rephoned["id"]}
    )
    staff = {i for i, q in before.parties.items() if _ref(q, "organisation") == org["id"]}
    lone = next(
        p
        for p in before.parties.values()
        if p["type"] == "person" and p["id"] not in {renamed["id"], rephoned["id"], *staff}
    )
    ctl.delete_party(org["id"])  # cascades: its people lose the link, its records are deleted
    ctl.delete_party(lone["id"])
    opportunity = next(
        o for o in before.opportunities.values() if _ref(o, "party") not in {org["id"], lone["id"]}
    )
    ctl.update_record("opportunities", opportunity["id"], {"probability": 90})
    task = next(t for t in before.tasks.values() if t["status"] == "OPEN" and t["id"])
    ctl.update_record("tasks", task["id"], {"status": "COMPLETED"})
    after = capsule_state()

    result = extract()

    changed = {renamed["id"], rephoned["id"], created["id"], *staff}
    assert _latest_load(settings, "capsule_parties") == changed | (overlap - {org["id"], lone["id"]})
    assert result.row_counts["capsule_parties"] == len(changed | (overlap - {org["id"], lone["id"]}))
    assert query(
        settings, "select first_name, last_name from raw.capsule_parties where id = ?", renamed["id"]
    ) == [("Renamed", "In Capsule")]
    phones = _children(settings, "capsule_parties", "phone_numbers", "c.id").get(rephoned["id"], [])
    assert (dropped_phone["id"],) not in phones  # the merge replaced the party's child rows
    assert len(phones) == len(rephoned["phoneNumbers"]) - 1
    assert query(settings, "select name from raw.capsule_parties where id = ?", created["id"]) == [
        ("Brand New Joinery Pty Ltd",)
    ]
    unlinked = query(
        settings,
        "select count(*) from raw.capsule_parties where list_contains(?, id) and organisation__id is null",
        sorted(staff),
    )
    assert unlinked == [(len(staff),)]

    deleted = dict(query(settings, DELETED_PARTIES))
    tombstones = {t["id"]: t["deletedAt"] for t in after.deleted["parties"]}
    assert {org["id"], lone["id"]} <= set(deleted)
    assert deleted[org["id"]] == tombstones[org["id"]] and deleted[lone["id"]] == tombstones[lone["id"]]
    cascaded = {o["id"] for o in before.opportunities.values() if _ref(o, "party") == org["id"]}
    stored_deleted_opps = {r[0] for r in query(settings, "select id from raw.capsule_deleted_opportunities")}
    assert cascaded <= stored_deleted_opps
    assert query(
        settings, "select probability from raw.capsule_opportunities where id = ?", opportunity["id"]
    ) == [(90,)]
    assert query(settings, "select status from raw.capsule_tasks where id = ?", task["id"]) == [
        ("COMPLETED",)
    ]


def test_cursors_survive_a_deleted_pipelines_folder(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    extract: Callable[..., CapsuleExtract],
    settings: Settings,
    capsule_state: Callable[[], Loaded],
    ctl: CapsuleControl,
) -> None:
    load_world(small_world)
    extract()
    folder = settings.home / "dlt"
    assert (folder / "capsule" / "state.json").is_file()
    shutil.rmtree(folder)
    state = capsule_state()
    edited = next(iter(state.parties))
    ctl.update_party(edited, {"about": "edited after the folder was lost"})

    seq = ctl.last_seq()
    result = extract()

    calls = capsule_calls(ctl, seq)
    assert len(calls) == 9 + pages(len(state.tasks))  # cursors came back from DuckDB
    party_calls = [c for c in calls if c["path"] == f"{V2}/parties"]
    assert len(party_calls) == 1 and "since=" in party_calls[0]["query"]
    assert _latest_load(settings, "capsule_parties") == {edited} | _overlap(state.parties)
    assert result.row_counts["capsule_parties"] == len({edited} | _overlap(state.parties))
    restored = capsule_pipeline(settings).state["sources"]["capsule"]["resources"]["parties"]
    assert restored["incremental"]["updatedAt"]["last_value"] > max(
        p["updatedAt"] for p in state.parties.values()
    )


def test_a_full_refresh_reads_everything_again(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    extract: Callable[..., CapsuleExtract],
    settings: Settings,
    capsule_state: Callable[[], Loaded],
    ctl: CapsuleControl,
) -> None:
    load_world(small_world)
    extract()
    state = capsule_state()
    seq = ctl.last_seq()
    result = extract(full_refresh=True)
    calls = capsule_calls(ctl, seq)
    assert len(calls) == _first_run_calls(state)
    assert not any("since=" in c["query"] for c in calls if c["path"] == f"{V2}/parties")
    assert result.row_counts["capsule_parties"] == len(state.parties)
    assert query(settings, "select count(*) from raw.capsule_parties") == [(len(state.parties),)]


def test_the_dlt_working_folder_lives_under_capsule_xero_home_and_nowhere_else(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    extract: Callable[..., CapsuleExtract],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user_home = tmp_path / "user-home"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.chdir(tmp_path)
    load_world(small_world)
    extract()
    assert (settings.home / "dlt" / "capsule" / "state.json").is_file()
    assert settings.duckdb_path.is_file()
    assert list(user_home.iterdir()) == []  # no ~/.dlt
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["home", "user-home"])


def test_every_table_exists_after_the_first_run_even_for_an_empty_account_and_fills_later(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    extract: Callable[..., CapsuleExtract],
    settings: Settings,
) -> None:
    extract()  # the sandbox starts with one user and nothing else
    tables = {
        r[0]
        for r in query(
            settings,
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "and table_name like 'capsule_%'",
        )
    }
    lists = {
        "capsule_parties": ["addresses", "phone_numbers", "email_addresses", "websites", "tags", "fields"],
        "capsule_opportunities": ["tags", "fields"],
        "capsule_kases": ["tags", "fields"],
        "capsule_party_field_definitions": ["options"],
    }
    expected = {
        "capsule_users",
        "capsule_tags",
        "capsule_tasks",
        *(f"capsule_deleted_{k}" for k in ("parties", "opportunities", "kases")),
        *lists,
        *(f"{parent}__{child}" for parent, children in lists.items() for child in children),
    }
    assert tables == expected
    assert query(settings, "select count(*) from raw.capsule_parties__websites") == [(0,)]

    load_world(small_world)
    result = extract()
    assert result.schema_changes == []  # every field the generator sends is a declared column
    assert query(settings, "select count(*) from raw.capsule_parties") == [
        (len(small_world.capsule_parties),)
    ]
    websites = sum(len(p["websites"]) for p in small_world.capsule_parties)
    assert query(settings, "select count(*) from raw.capsule_parties__websites") == [(websites,)]


def test_the_source_runs_as_dagster_dlt_runs_it_with_settings_from_the_environment(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    server: SandboxServer,
    settings: Settings,
    capsule_state: Callable[[], Loaded],
    ctl: CapsuleControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_world(small_world)
    for name, value in {**server.env(), "CAPSULE_XERO_HOME": str(settings.home)}.items():
        monkeypatch.setenv(name, value)
    pipeline = capsule_pipeline(Settings.from_env())
    before = before_load(pipeline)
    info = pipeline.run(capsule_source())  # what dagster-dlt's DagsterDltResource.run does
    assert after_load(pipeline, before, info) == []
    assert query(settings, "select count(*) from raw.capsule_parties") == [
        (len(small_world.capsule_parties),)
    ]

    seq = ctl.last_seq()
    extract_capsule(settings)  # the CLI path continues from the same cursors
    assert len(capsule_calls(ctl, seq)) == 9 + pages(len(capsule_state().tasks))

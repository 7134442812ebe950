"""A new or small Xero organisation or Capsule account: every raw table the SQL reads exists after the
extract, so the whole reconcile runs (the first migration of a new customer starts from an empty Xero)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest
from dagster_dlt import DagsterDltResource

from assets.ingest import xero_extract
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from sandbox.app import Sandbox
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from transform.reports import MONEY_TABLES, REPORTS, base_tables, why_unavailable
from transform.sql import build
from transform.stages import reconcile, sql_params

SEED = 11
# Every Xero table the staging and reconcile SQL select from (transform/sql/staging/xero_contacts.sql,
# reconcile/owner_matches.sql), the contact groups as listed, and the nested lists of a contact.
XERO_TABLES = (
    "xero_contacts",
    "xero_contacts__phones",
    "xero_contacts__addresses",
    "xero_contacts__contact_persons",
    "xero_contacts__contact_groups",
    "xero_contact_groups",
    "xero_users",
)
WRITES = ("create", "update", "archive", "restore")


@pytest.fixture(scope="module")
def world() -> Dataset:
    """200 parties: the smallest world in which every messy case of the generator occurs."""
    return generate(200, seed=SEED)


def signed_in(server: SandboxServer, home: Path) -> Settings:
    settings = Settings.from_env(server.env() | {"CAPSULE_XERO_HOME": str(home)})
    login(
        XeroAuth(settings),
        choose_tenant=lambda connections: connections[0],
        open_url=lambda url: httpx.get(url, follow_redirects=True, timeout=10),
    )
    return settings


def extract_and_reconcile(settings: Settings, now: datetime | None = None) -> duckdb.DuckDBPyConnection:
    """Both extracts, then the whole reconcile with the default rules (``now``: the world's clock)."""
    extract_capsule(settings)
    run_xero_extract(settings)
    con = duckdb.connect(str(settings.duckdb_path))
    reconcile(con, Rules(), now=now)
    return con


def row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {
        table: con.execute(f'select count(*) from raw."{table}"').fetchall()[0][0]  # noqa: S608 (constants)
        for table in XERO_TABLES
    }


def operations(con: duckdb.DuckDBPyConnection) -> dict[int | None, tuple[str, str | None]]:
    rows = con.execute("select party_id, operation, contact_id from reconcile.contact_operations").fetchall()
    return {party_id: (operation, contact_id) for party_id, operation, contact_id in rows}


def pairs(dataset: Dataset, case: str) -> dict[int, str]:
    """A (party, contact, ...) case as party -> ContactID (lower case, as staged)."""
    return {party: contact.lower() for party, contact, *_ in dataset.cases[case]}


def test_an_empty_xero_organisation_gets_every_live_capsule_party_planned_as_a_new_contact(
    sandbox: Sandbox, server: SandboxServer, tmp_path: Path, world: Dataset
) -> None:
    server.call(lambda: sandbox.capsule.load(world))  # Xero stays a new organisation: one user, nothing else
    con = extract_and_reconcile(signed_in(server, tmp_path / "home"), world.now)

    counts = row_counts(con)
    assert counts.pop("xero_users") >= 1  # the subscriber
    assert counts == dict.fromkeys(counts, 0)
    # A contact of its own: every organisation and every person without one (people with an
    # organisation travel as its ContactPersons); an over-long name is held back (quarantined).
    held_back = set(world.cases["over_long_name"])
    syncable = {
        p["id"]
        for p in world.capsule_parties
        if (p["type"] == "organisation" or p["organisation"] is None) and p["id"] not in held_back
    }
    # A company entered twice in Capsule is for a person to sort out, Xero or not.
    twice = {party for pair in world.cases["same_company_twice"] for party in pair}
    assert twice and twice <= syncable
    planned = operations(con)
    assert planned == {party: ("review" if party in twice else "create", None) for party in syncable}, (
        "every syncable party becomes a new contact, and none points at a Xero contact"
    )
    numbers = con.execute(
        "select count(distinct contact_number) from reconcile.contact_operations where operation = 'create'"
    ).fetchall()
    assert numbers == [(len(syncable - twice),)]


def test_xero_contacts_without_persons_groups_or_addresses_still_match_and_reconcile(
    sandbox: Sandbox, server: SandboxServer, tmp_path: Path
) -> None:
    dataset = generate(200, seed=SEED)
    for contact in dataset.xero_contacts:
        contact.pop("ContactPersons", None)
        contact.pop("Addresses", None)
    dataset.xero_contact_groups = []  # no groups, so no contact lists any
    server.call(lambda: sandbox.load(dataset))
    con = extract_and_reconcile(signed_in(server, tmp_path / "home"), dataset.now)

    counts = row_counts(con)
    assert counts["xero_contacts"] == len(dataset.xero_contacts)
    assert counts["xero_contacts__phones"] > 0
    for table in ("addresses", "contact_persons", "contact_groups"):
        assert counts[f"xero_contacts__{table}"] == 0, table
    assert counts["xero_contact_groups"] == 0
    staged = con.execute(
        "select count(*) from staging.xero_contacts "
        "where len(contact_persons) = 0 and len(street_lines) = 0 and len(contact_groups) = 0 "
        "and street_city is null and postal_city is null"
    ).fetchall()
    assert staged == [(len(dataset.xero_contacts),)]
    # The earlier sync's contacts are still recognised: same party, same contact.
    matched = dict(
        con.execute(
            "select party_id, contact_id from reconcile.contact_matches where outcome = 'matched'"
        ).fetchall()
    )
    in_sync = pairs(dataset, "synced_in_sync")
    assert in_sync
    assert {party: matched.get(party) for party in in_sync} == in_sync
    planned = operations(con)
    assert all(planned[party][1] == contact for party, contact in in_sync.items())


def test_an_empty_capsule_account_plans_nothing_and_leaves_every_xero_contact_alone(
    sandbox: Sandbox, server: SandboxServer, tmp_path: Path, world: Dataset
) -> None:
    server.call(lambda: sandbox.xero.load(world))  # Capsule stays a new account: one user, nothing else
    con = extract_and_reconcile(signed_in(server, tmp_path / "home"), world.now)

    assert con.execute("select count(*) from raw.capsule_parties").fetchall() == [(0,)]
    assert row_counts(con)["xero_contacts"] == len(world.xero_contacts)
    writes = con.execute(
        "select operation, count(*) from reconcile.contact_operations "
        "where list_contains($writes, operation) group by operation",
        {"writes": list(WRITES)},
    ).fetchall()
    assert writes == []
    only_in_xero = {row[0] for row in con.execute("select contact_id from reports.only_in_xero").fetchall()}
    assert only_in_xero == {c["ContactID"].lower() for c in world.xero_contacts}


def test_a_new_install_with_both_systems_empty_plans_nothing_and_every_report_reads(
    server: SandboxServer, tmp_path: Path
) -> None:
    con = extract_and_reconcile(signed_in(server, tmp_path / "home"))

    assert con.execute("select count(*) from reconcile.contact_operations").fetchall() == [(0,)]
    for name in REPORTS:  # every report is there, and reads; a money report waits for money.read
        reason = why_unavailable(con, name)
        if reason is None:
            con.execute(f"select * from reports.{name}").fetchall()  # noqa: S608 (the catalogue's names)
        else:
            assert set(base_tables(name)) & set(MONEY_TABLES) and "money.read" in reason, (name, reason)


def columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, tuple[str, str]]]:
    rows = con.execute(
        "select table_name, column_name, data_type, is_nullable from information_schema.columns "
        "where table_schema = 'raw' and list_contains($tables, table_name)",
        {"tables": list(XERO_TABLES)},
    ).fetchall()
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for table, column, data_type, nullable in rows:
        out.setdefault(table, {})[column] = (data_type, nullable)
    return out


def staged_contacts(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    build(con, "staging", "xero_contacts", sql_params(Rules()))
    # loaded_at is when each home read its copy: the two homes read at different moments.
    return con.execute(
        "select * exclude (loaded_at) from staging.xero_contacts order by contact_id"
    ).fetchall()


def test_tables_created_empty_take_the_rows_of_a_later_load_exactly_as_tables_dlt_creates(
    sandbox: Sandbox, server: SandboxServer, tmp_path: Path, world: Dataset
) -> None:
    first = signed_in(server, tmp_path / "empty-first")
    run_xero_extract(first)  # a new organisation: nothing but its subscriber
    with duckdb.connect(str(first.duckdb_path)) as con:
        empty = {table for table, rows in row_counts(con).items() if rows == 0}
        created_empty = {table: made for table, made in columns(con).items() if table in empty}
    assert empty == set(XERO_TABLES) - {"xero_users"}  # the subscriber is a row: dlt made that one

    server.call(lambda: sandbox.xero.load(world))
    run_xero_extract(first)  # the contacts arrive into the tables made empty
    rows_first = signed_in(server, tmp_path / "rows-first")
    run_xero_extract(rows_first)  # dlt makes every table from the rows

    with (
        duckdb.connect(str(first.duckdb_path)) as filled,
        duckdb.connect(str(rows_first.duckdb_path)) as made_by_dlt,
    ):
        by_dlt = columns(made_by_dlt)
        for table, made in created_empty.items():
            assert made.keys() <= by_dlt[table].keys(), table
            assert made == {name: by_dlt[table][name] for name in made}, table
        assert columns(filled) == by_dlt
        loaded = {t: rows for t, rows in row_counts(filled).items() if t in empty}
        assert loaded == {t: rows for t, rows in row_counts(made_by_dlt).items() if t in empty}
        assert all(loaded.values()), loaded
        assert staged_contacts(filled) == staged_contacts(made_by_dlt)


def test_the_dagster_xero_extract_of_a_new_organisation_leaves_every_table_there_empty(
    server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = signed_in(server, tmp_path / "home")
    for key, value in (server.env() | {"CAPSULE_XERO_HOME": str(settings.home)}).items():
        monkeypatch.setenv(key, value)
    result = dg.materialize(
        [xero_extract], resources={"dlt": DagsterDltResource()}, instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        counts = row_counts(con)
    assert counts.pop("xero_users") >= 1  # the subscriber
    assert counts == dict.fromkeys(counts, 0)

"""`capsule-xero report`: lists the reports, prints one, writes it as CSV, and says plainly when it cannot."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from capsule_xero.settings import Settings
from cli import app as cli
from transform.reports import REPORTS, create_report_views

# Twelve quarantined values on hand-made parties: unicode, commas, quotes and empty cells on purpose.
PARTIES = [(100 + n, f'Zoë Müller, "Café" {chr(65 + n)}') for n in range(1, 13)]
QUARANTINE = [
    ("capsule", str(party_id), "email_valid", "emailAddresses", "zoe@@cafe", None, "address not sent")
    for party_id, _ in PARTIES[:-1]
] + [
    (
        "capsule",
        str(PARTIES[-1][0]),
        "abn_valid",
        "ABN",
        "12 345",
        "not 11 digits",
        "ABN not sent to TaxNumber",
    )
]


@pytest.fixture
def duckdb_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DuckDB file with staging only (no sync has built the reconcile tables): the quarantine reports work."""
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path / "home"))
    path = Settings.from_env().duckdb_path
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema staging")
        con.execute("create table staging.capsule_parties (party_id bigint, display_name varchar)")
        for row in PARTIES:
            con.table("staging.capsule_parties").insert(row)
        con.execute(
            "create table staging.quarantine (source varchar, record_id varchar, rule varchar, field varchar,"
            " value varchar, detail varchar, effect varchar)"
        )
        for row in QUARANTINE:
            con.table("staging.quarantine").insert(row)
        create_report_views(con)
    return path


def test_report_without_a_name_lists_every_report_and_whether_it_can_be_read_yet(duckdb_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["report"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in REPORTS:
        (line,) = [line for line in lines if line.startswith(f"│ {name} ")]
        ready = "yes" if name in {"quarantine", "data_quality"} else "after a sync"
        assert line.rstrip(" │").endswith(ready), line


def test_report_prints_a_table_capped_at_the_limit_and_says_how_many_rows_are_left(duckdb_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["report", "quarantine", "--limit", "5"])
    assert result.exit_code == 0, result.output
    shown = [party_id for party_id, _ in PARTIES if f"│ {party_id}" in result.output]
    assert shown == [party_id for party_id, _ in PARTIES[:5]]
    assert f"and {len(PARTIES) - 5} more rows ({len(PARTIES)} in all)" in result.output
    assert "--csv FILE" in result.output


def test_report_csv_writes_every_row_in_utf8_with_a_header_and_reads_back_the_same(
    duckdb_path: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "quarantine.csv"
    result = CliRunner().invoke(cli.app, ["report", "quarantine", "--csv", str(target), "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert str(target) in result.output and f"{len(QUARANTINE)} rows" in result.output
    with target.open(encoding="utf-8", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert header == ["source", "record_id", "name", "rule", "field", "value", "detail", "effect"]
    names = dict(PARTIES)
    assert rows == [
        [source, record_id, names[int(record_id)], rule, field, value, detail or "", effect]
        for source, record_id, rule, field, value, detail, effect in QUARANTINE
    ]


def test_an_unknown_report_exits_2_and_names_the_reports_there_are(duckdb_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["report", "reconcilation"])
    assert result.exit_code == 2
    assert "reconcilation" in result.output and all(name in result.output for name in REPORTS)


def test_a_report_without_a_duckdb_file_exits_1_and_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(cli.app, ["report", "reconciliation"])
    assert result.exit_code == 1
    assert str(Settings.from_env().duckdb_path) in result.output and "capsule-xero sync" in result.output
    assert not (tmp_path / "nowhere").exists()


def test_a_report_whose_tables_no_sync_has_built_exits_1_and_names_them(duckdb_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["report", "pending_diff"])
    assert result.exit_code == 1
    assert "reconcile.contact_operations" in result.output and "capsule-xero sync" in result.output


def test_a_report_while_another_process_writes_the_file_exits_1_and_says_why(duckdb_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()",
            str(duckdb_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = CliRunner().invoke(cli.app, ["report", "quarantine"])
    finally:
        holder.communicate("", timeout=30)
    assert result.exit_code == 1
    assert f"{duckdb_path} is open in" in result.output and "Close that program" in result.output

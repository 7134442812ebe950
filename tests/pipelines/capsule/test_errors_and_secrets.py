"""Errors a person can act on, never retried when retrying cannot help, and a token that stays secret."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from capsule_xero.settings import Settings
from pipelines.capsule import (
    CapsuleLoadFailed,
    CapsuleRequestRejected,
    capsule_pipeline,
    capsule_source,
    extract_capsule,
)
from pipelines.capsule.helpers import CapsuleAuth
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset
from sandbox.server import SandboxServer
from tests.pipelines.capsule.conftest import capsule_calls, fast_pacer, query, settings_for

WRONG_TOKEN = "0123456789abcdef-not-the-token-fedcba9876543210"


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """DEBUG from every logger, dlt's included (it does not propagate to the root logger)."""
    dlt_logger = logging.getLogger("dlt")
    old_level = dlt_logger.level
    dlt_logger.addHandler(caplog.handler)
    dlt_logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        dlt_logger.removeHandler(caplog.handler)
        dlt_logger.setLevel(old_level)


def test_a_401_is_not_retried_and_says_which_setting_to_fix_without_the_token(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    server: SandboxServer,
    home: Path,
    ctl: CapsuleControl,
) -> None:
    load_world(small_world)
    wrong = settings_for(server, home, CAPSULE_API_TOKEN=WRONG_TOKEN)
    seq = ctl.last_seq()
    with pytest.raises(CapsuleRequestRejected) as refused:
        extract_capsule(wrong, pacer=fast_pacer())
    served = capsule_calls(ctl, seq)
    assert [c["status"] for c in served] == [401]  # once: a bad token does not get better by retrying
    message = str(refused.value)
    assert refused.value.status == 401
    assert "CAPSULE_API_TOKEN" in message and "API Authentication Tokens" in message
    assert WRONG_TOKEN not in message and WRONG_TOKEN not in repr(refused.value)
    assert WRONG_TOKEN not in str(refused.value.__cause__)


def test_a_422_is_not_retried_and_names_the_parameter_capsule_refused(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    settings: Settings,
    ctl: CapsuleControl,
) -> None:
    load_world(small_world)
    seq = ctl.last_seq()
    with pytest.raises(CapsuleRequestRejected) as refused:
        extract_capsule(settings, pacer=fast_pacer(), per_page=101)  # Capsule allows 1..100
    served = capsule_calls(ctl, seq)
    refusals = [c for c in served if c["status"] == 422]
    assert len(refusals) == 1 and served[-1] is refusals[-1]  # the first paged list: once, then stop
    message = str(refused.value)
    assert refused.value.status == 422
    assert "perPage: perPage must be between 1 and 100" in message
    assert "bug in capsule-xero" in message


def test_a_missing_token_is_reported_before_any_call(
    server: SandboxServer, home: Path, ctl: CapsuleControl
) -> None:
    seq = ctl.last_seq()
    with pytest.raises(CapsuleRequestRejected, match="CAPSULE_API_TOKEN is not set"):
        extract_capsule(settings_for(server, home, CAPSULE_API_TOKEN=""), pacer=fast_pacer())
    assert capsule_calls(ctl, seq) == []


def test_the_source_is_built_without_credentials_or_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAPSULE_API_TOKEN", raising=False)
    source = capsule_source()  # what Dagster does when it loads definitions
    assert source.name == "capsule"
    assert set(source.resources) == {
        "parties",
        "users",
        "party_field_definitions",
        "tags",
        "opportunities",
        "kases",
        "tasks",
        "deleted_parties",
        "deleted_opportunities",
        "deleted_kases",
    }


def _files_mentioning(folder: Path, secret: bytes) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        if secret in data:
            found.append(path)
    return found


def test_the_token_never_reaches_logs_the_duckdb_file_the_pipelines_folder_or_error_text(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    settings: Settings,
    token: str,
    ctl: CapsuleControl,
    everything_logged: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    load_world(small_world)
    # retries log too: make some happen
    ctl.add_fault("capsule", "GET", "/api/v2/*", times=4, **{"503": 0.4, "drop": 0.4})
    extract_capsule(settings, pacer=fast_pacer())
    with pytest.raises(CapsuleRequestRejected) as refused:
        extract_capsule(settings, pacer=fast_pacer(), per_page=0)
    extract_capsule(settings, pacer=fast_pacer())
    assert ctl.stats("capsule")["faults"]  # the faults did fire

    assert "Capsule refused" in str(refused.value)
    for text in (str(refused.value), repr(refused.value), str(refused.value.__cause__)):
        assert token not in text
    assert "GET /api/v2/" in everything_logged.text  # DEBUG request logging was on
    assert token not in everything_logged.text
    for record in everything_logged.records:
        assert token not in repr(record.__dict__)
    out, err = capfd.readouterr()
    assert token not in out and token not in err
    assert token not in repr(CapsuleAuth(settings.capsule_api_token))

    secret = token.encode()
    assert _files_mentioning(settings.home, secret) == []  # the DuckDB file and every dlt file
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
        for schema, table in tables:  # values, not bytes: DuckDB may compress strings on disk
            for row in con.execute(f"select * from {schema}.{table}").fetchall():  # noqa: S608
                assert token not in repr(row), table
        from dlt.common.versioned_state import decompress_state

        for (state,) in con.execute("select state from raw._dlt_pipeline_state").fetchall():
            assert token not in repr(decompress_state(state))


def test_a_run_whose_load_fails_is_undone_says_why_and_the_next_run_starts_from_the_last_cursors(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    settings: Settings,
    server: SandboxServer,
    sandbox: Sandbox,
    ctl: CapsuleControl,
) -> None:
    load_world(small_world)
    extract_capsule(settings, pacer=fast_pacer())
    edited, broken = small_world.capsule_parties[0]["id"], small_world.capsule_parties[1]["id"]
    ctl.update_party(edited, {"about": "edited before the failed run"})

    def break_a_party() -> None:  # Capsule sends a party without an id (it never should)
        state = sandbox.capsule
        party = state.parties.get(broken)
        assert party is not None
        state.parties.put({**party, "updatedAt": state.now_iso()})
        state.parties.by_id[broken] = {k: v for k, v in state.parties.by_id[broken].items() if k != "id"}

    server.call(break_a_party)
    with pytest.raises(CapsuleLoadFailed) as failed:
        extract_capsule(settings, pacer=fast_pacer())
    message = str(failed.value)
    assert str(settings.duckdb_path) in message and "next run continues from the cursors" in message
    pipeline = capsule_pipeline(settings)
    assert not pipeline.has_pending_data

    def repair() -> None:
        state = sandbox.capsule
        state.parties.by_id[broken] = {"id": broken, **state.parties.by_id[broken]}

    server.call(repair)
    seq = ctl.last_seq()
    result = extract_capsule(settings, pacer=fast_pacer())
    assert result.row_counts["capsule_parties"] >= 2
    assert query(settings, "select about from raw.capsule_parties where id = ?", edited) == [
        ("edited before the failed run",)
    ]
    party_calls = [c for c in capsule_calls(ctl, seq) if c["path"] == "/api/v2/parties"]
    assert len(party_calls) == 1 and "since=" in party_calls[0]["query"]

"""Capsule's cursors (``since`` and the deleted feeds) never run ahead of the rows DuckDB holds
(issue 11, item 1): a table that lost its rows is read in full again, so Capsule never looks empty
(nor its deletions forgotten) because a file was lost, emptied or put back from a backup."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import duckdb

from capsule_xero.settings import Settings
from pipelines.capsule import CapsuleExtract
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset
from tests.pipelines.capsule.conftest import Loaded, query


def counts(settings: Settings) -> tuple[int, int]:
    parties = query(settings, "select count(*) from raw.capsule_parties")[0][0]
    deleted = query(settings, "select count(*) from raw.capsule_deleted_parties")[0][0]
    return parties, deleted


def test_emptied_party_and_deletion_tables_are_read_in_full_again(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    extract: Callable[..., CapsuleExtract],
    settings: Settings,
    capsule_state: Callable[[], Loaded],
) -> None:
    load_world(small_world)
    extract()
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("delete from raw.capsule_parties; delete from raw.capsule_deleted_parties")

    extract()

    state = capsule_state()
    assert counts(settings) == (
        len(state.parties),
        len(state.deleted["parties"]) + len(state.restricted["parties"]),
    )


def test_a_duckdb_file_put_back_from_an_older_backup_reads_the_changes_since_it(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    extract: Callable[..., CapsuleExtract],
    settings: Settings,
    capsule_state: Callable[[], Loaded],
    ctl: CapsuleControl,
) -> None:
    load_world(small_world)
    extract()
    backup = settings.home / "backup.duckdb"
    shutil.copyfile(settings.duckdb_path, backup)
    made = ctl.create_party({"type": "organisation", "name": "Made After The Backup Pty Ltd"})
    parties = iter(capsule_state().parties)
    ctl.delete_party(next(parties))
    extract()
    # An hour on, past the cursors' five-minute overlap, later syncs read later edits.
    ctl.set_clock(advance_seconds=3600)
    ctl.update_party(next(parties), {"about": "edited an hour after the backup"})
    ctl.delete_party(next(parties))
    extract()
    shutil.copyfile(backup, settings.duckdb_path)

    extract()

    state = capsule_state()
    assert query(settings, "select count(*) from raw.capsule_parties where id = ?", made["id"]) == [(1,)]
    assert counts(settings)[1] == len(state.deleted["parties"]) + len(state.restricted["parties"])

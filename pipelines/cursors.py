"""Cursors never run ahead of the data they describe.

dlt keeps each source's cursors (Capsule ``since`` and the deleted feeds, Xero ``If-Modified-Since``)
twice: in its working folder (``$CAPSULE_XERO_HOME/dlt/<pipeline>/state.json``) and, with every load,
in the DuckDB file (``raw._dlt_pipeline_state``). dlt restores the folder from the file when the
folder is the one lost, but not the other way round: with the DuckDB file deleted (the natural
reaction to a corrupt one), or put back from an older backup, it reads incrementally from the
folder's newer cursors into tables that do not hold what those cursors say was read. Xero then looks
empty, and matching creates contacts Xero already has.

``align_cursors`` runs before every extract (CLI and Dagster alike) and makes the two agree, always
towards the data:

1. the folder's state must be the newest state the file holds for this pipeline; when the file holds
   an older one (a backup) or none (a new or lost file), the folder is dropped; then the file's own
   cursors are restored (``sync_destination``), and with none the source reads in full;
2. each cursor must be covered by its table: the newest cursor value in the table is at least the
   cursor. A table missing, emptied or older than its cursor has that resource's state reset, in the
   folder and in the file, so it is read in full again (merged by primary key: nothing is loaded
   twice).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
from dlt.common.normalizers.naming.snake_case import NamingConvention

from capsule_xero.duckdb_file import check_duckdb_file, open_duckdb, problem

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAMING = NamingConvention()


@dataclass(frozen=True)
class _StoredState:
    version: int
    version_hash: str | None


def _micros(value: Any) -> int | None:
    """A cursor value as microseconds since the epoch; None when it is not a time."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


def _has_table(con: Any, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _stored_state(duckdb_path: Path, dataset: str, pipeline_name: str) -> _StoredState | None:
    """The state dlt would restore from the file: the newest one of a completed load."""
    if not Path(duckdb_path).exists():
        return None
    import duckdb

    with open_duckdb(duckdb_path, read_only=True) as con:
        try:
            if not (
                _has_table(con, dataset, "_dlt_pipeline_state") and _has_table(con, dataset, "_dlt_loads")
            ):
                return None
            row = con.execute(
                f"select s.version, s.version_hash from {dataset}._dlt_pipeline_state as s"  # noqa: S608 - dlt's own names
                f" join {dataset}._dlt_loads as l on l.load_id = s._dlt_load_id"
                " where s.pipeline_name = ? and l.status = 0 order by l.load_id desc limit 1",
                [pipeline_name],
            ).fetchone()
        except duckdb.Error as exc:
            raise problem(Path(duckdb_path), exc) from None
    return None if row is None else _StoredState(int(row[0]), row[1])


def _newest(
    duckdb_path: Path, dataset: str, wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], int | None]:
    """For each (table, column): the newest value in the file, in microseconds; None when the table
    or column is missing or empty."""
    found: dict[tuple[str, str], int | None] = dict.fromkeys(wanted)
    if not wanted or not Path(duckdb_path).exists():
        return found
    import duckdb

    with open_duckdb(duckdb_path, read_only=True) as con:
        try:
            columns = set(
                con.execute(
                    "select table_name, column_name from information_schema.columns where table_schema = ?",
                    [dataset],
                ).fetchall()
            )
            for table, column in wanted & columns:
                # Identifiers come from dlt's naming of our own resources, checked against the catalog.
                found[(table, column)] = con.execute(
                    f'select epoch_us(max(cast("{column}" as timestamptz))) from {dataset}."{table}"'  # noqa: S608
                ).fetchone()[0]
        except duckdb.Error as exc:
            raise problem(Path(duckdb_path), exc) from None
    return found


def duckdb_path_of(pipeline: dlt.Pipeline) -> Path:
    """The DuckDB file the pipeline loads into (its destination's credentials are the path)."""
    return Path(str(pipeline.destination.config_params["credentials"]))


def _local_state(pipeline: dlt.Pipeline) -> dict[str, Any] | None:
    if not (Path(pipeline.working_dir) / "state.json").exists():
        return None
    return pipeline.state  # type: ignore[return-value]


def align_cursors(pipeline: dlt.Pipeline, duckdb_path: Path, cursor_tables: Mapping[str, str]) -> list[str]:
    """Make the pipeline's cursors agree with the DuckDB file before a run; returns what was reset.

    ``cursor_tables``: resource name -> the table its incremental cursor describes. Raises
    ``DuckDBFileProblem`` (one line) when the file is damaged or held by another program."""
    check_duckdb_file(duckdb_path)
    dataset = pipeline.dataset_name
    reset: list[str] = []
    local = _local_state(pipeline)
    if local is not None and local.get("_state_version", 0) > 0:
        stored = _stored_state(duckdb_path, dataset, pipeline.pipeline_name)
        behind = stored is None or (
            stored.version <= local["_state_version"] and stored.version_hash != local.get("_version_hash")
        )
        if behind:
            log.warning(
                "%s: the DuckDB file %s; reading from %s",
                pipeline.pipeline_name,
                "holds none of its cursors" if stored is None else "holds older cursors than dlt's folder",
                "scratch (in full)" if stored is None else "the cursors in the file",
            )
            pipeline.drop()
            reset.append("all (the DuckDB file does not hold the working folder's cursors)")
    if Path(duckdb_path).exists():
        # The file's own cursors, when the folder was lost, dropped above, or is older: callers may
        # run the pipeline with restore_from_destination off (Dagster), so the checks below see
        # the state the run will use, and what they reset stays reset.
        pipeline.sync_destination()
    local = _local_state(pipeline)
    if local is None:
        return reset

    claims: list[tuple[str, str, tuple[str, str], int]] = []  # source, resource, (table, column), cursor
    for source, source_state in (local.get("sources") or {}).items():
        for resource, state in (source_state.get("resources") or {}).items():
            table = cursor_tables.get(resource)
            if table is None:
                continue
            for path, cursor in (state.get("incremental") or {}).items():
                last = cursor.get("last_value")
                if last is None or last == cursor.get("initial_value"):
                    continue
                micros = _micros(last)
                if micros is not None:
                    claims.append((source, resource, (table, _NAMING.normalize_path(path)), micros))
    newest = _newest(duckdb_path, dataset, {where for _, _, where, _ in claims})
    stale = {
        (source, resource)
        for source, resource, where, micros in claims
        if (held := newest.get(where)) is None or held < micros
    }
    if not stale:
        return reset
    # The reset is stored in the file at once (a load of the state alone): dagster-dlt drops the
    # working folder before each run and restores it from the file, which would undo a reset kept
    # only in the folder.
    with pipeline.managed_state(extract_state=True) as state:
        for source, resource in sorted(stale):
            state["sources"][source]["resources"].pop(resource, None)
            log.warning(
                "%s: raw.%s does not hold what its cursor says was read: reading %s in full",
                pipeline.pipeline_name,
                cursor_tables[resource],
                resource,
            )
            reset.append(resource)
    pipeline.normalize()
    pipeline.load()
    return reset

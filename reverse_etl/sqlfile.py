"""SQL kept in ``.sql`` files, and running it on DuckDB.

A file holds either one query (read whole: ``query_text``) or named statements, each started by a
``-- name: x`` line (``statements``; ``SqlFile`` runs them by name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import duckdb


@cache
def statements(path: Path) -> dict[str, str]:
    """The named statements of an SQL file (``-- name: x`` starts statement x)."""
    out: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in path.read_text().splitlines():
        match = re.match(r"--\s*name:\s*(\w+)\s*$", line)
        if match:
            if name:
                out[name] = "\n".join(lines).strip()
            name, lines = match.group(1), []
        elif name:
            lines.append(line)
    if name:
        out[name] = "\n".join(lines).strip()
    return out


@cache
def query_text(path: Path) -> str:
    """The whole text of a one-query SQL file."""
    return path.read_text()


def fetch(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Statement ``name`` of ``path`` run with ``params``: its rows as dicts."""
    return SqlFile(path).rows(con, name, params)


class SqlFile:
    """The named statements of one ``.sql`` file, run on a connection by name."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __getitem__(self, name: str) -> str:
        return statements(self.path)[name]

    def execute(
        self, con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None
    ) -> duckdb.DuckDBPyConnection:
        return con.execute(self[name], dict(params or {}))

    def rows(
        self, con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Statement ``name`` run with ``params``: its rows as dicts."""
        result = self.execute(con, name, params)
        columns = [d[0] for d in result.description]
        return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]

    def insert_rows(
        self,
        con: duckdb.DuckDBPyConnection,
        name: str,
        records: Iterable[Mapping[str, Any]],
        **scalars: Any,
    ) -> None:
        """Run the bulk statement ``name`` once for all ``records`` (passed as one list per column):
        DuckDB pays per statement, so a batch of 50 contacts costs a few statements, not hundreds."""
        records = list(records)
        if records:
            columns = {key: [record[key] for record in records] for key in records[0]}
            con.execute(self[name], {**columns, **scalars})


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """``with transaction(con):`` commits at the end, rolls back on any exception (a kill included)."""
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    con.commit()


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
    ).fetchall()
    return rows[0][0] > 0

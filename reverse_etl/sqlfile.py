"""Named SQL statements kept in ``.sql`` files (``-- name: x`` starts statement x), and running them."""

from __future__ import annotations

import re
from collections.abc import Mapping
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


def fetch(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Statement ``name`` of ``path`` run with ``params``: its rows as dicts."""
    result = con.execute(statements(path)[name], dict(params or {}))
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]

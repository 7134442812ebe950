"""SQL models, one per file named after the table it builds (``transform/sql/<schema>/<table>.sql``).

Models are plain ``select`` statements; ``build`` wraps them in ``create or replace table`` and
binds their named parameters (``$abn_field`` ...), so nothing a user configures is pasted into SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from transform import normalise

SQL_DIR = Path(__file__).resolve().parent
_PARAMETER_RE = re.compile(r"\$([a-z_][a-z0-9_]*)")


def model_sql(schema: str, table: str) -> str:
    return (SQL_DIR / schema / f"{table}.sql").read_text()


def model_params(select: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters ``select`` names, from ``params`` (DuckDB refuses unused ones); a missing one is an error."""
    wanted = set(_PARAMETER_RE.findall(_strip_comments(select)))
    missing = wanted - set(params or {})
    if missing:
        raise KeyError(f"the model needs parameters {sorted(missing)}")
    return {name: value for name, value in (params or {}).items() if name in wanted}


def _strip_comments(select: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in select.splitlines())


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """The ``cx_*`` normalisers, once per connection (DuckDB refuses a second definition), and the macros."""
    known = con.execute(
        "select count(*) from duckdb_functions() where function_name = 'cx_fold_name'"
    ).fetchall()
    if known[0][0] == 0:
        normalise.register(con)
    register_macros(con)


def register_macros(con: duckdb.DuckDBPyConnection) -> None:
    """The shared ``cx_*`` SQL macros (``macros.sql``: addresses, persons, groups), as temporary macros."""
    con.execute((SQL_DIR / "macros.sql").read_text())


def build(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, params: Mapping[str, Any] | None = None
) -> int:
    """Create (or replace) ``schema.table`` from its model; return its row count."""
    register_functions(con)
    con.execute(f"create schema if not exists {schema}")
    select = model_sql(schema, table)
    con.execute(f"create or replace table {schema}.{table} as {select}", model_params(select, params))
    return con.table(f"{schema}.{table}").aggregate("count(*)").fetchall()[0][0]

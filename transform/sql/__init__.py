"""SQL models, one per file named after the table it builds (``transform/sql/<schema>/<table>.sql``).

Models are plain ``select`` statements; ``build`` wraps them in ``create or replace table`` and
binds their named parameters (``$abn_field`` ...), so nothing a user configures is pasted into SQL.
The models call the ``cx_*`` functions: the normalisers of transform/normalise.py and
transform/domains.py (``register_normalisers``, with the fast paths of ``normalise.sql``) and the
shared macros of ``macros.sql``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
from duckdb import sqltypes

from transform import domains, normalise

SQL_DIR = Path(__file__).resolve().parent
NORMALISE_SQL = SQL_DIR / "normalise.sql"
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


# A session variable (per connection, as the temporary functions and macros are) says they are in
# place: asking duckdb_functions() took ~90 ms and re-running macros.sql ~25 ms, once per model built,
# seconds per sync.
REGISTERED = "cx_functions_registered"


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """The ``cx_*`` normalisers and the macros, once per connection (DuckDB refuses a second definition)."""
    if con.execute("select getvariable(?)", [REGISTERED]).fetchone()[0]:
        return
    known = con.execute(
        "select count(*) from duckdb_functions() where function_name = 'cx_fold_name'"
    ).fetchall()
    if known[0][0] == 0:
        register_normalisers(con)
    register_macros(con)
    con.execute(f"set variable {REGISTERED} = true")


_NORMALISERS = {
    "text": normalise.clean_text,
    "name": normalise.clean_name,
    "email": normalise.email,
    "email_domain": normalise.email_domain,
    "website_domain": domains.website_domain,
    "company_domain": domains.company_domain,
    "phone_e164": normalise.phone_e164_au,
    "abn": normalise.abn,
    "abn_problem": normalise.abn_problem,
    "fold_name": normalise.fold_name,
}


def _sql_literals(values: frozenset[str]) -> str:
    return "(" + ", ".join("'" + value.replace("'", "''") + "'" for value in sorted(values)) + ")"


def register_normalisers(
    con: duckdb.DuckDBPyConnection, *, sql_fast_paths: bool = True
) -> duckdb.DuckDBPyConnection:
    """Register every normaliser on ``con`` as ``cx_<name>``; returns ``con``.

    NULL in → NULL out; ``cx_phone_e164`` uses the AU default region. With ``sql_fast_paths`` (the
    default) the text normalisers are macros (``normalise.sql``) that answer the common shapes in SQL,
    vectorised and on every thread, and hand the rest to the Python functions (registered as
    ``normalise_py_<name>``): the same answers for 1.3-9x less CPU per value than calling Python row
    by row (bench/normalise.py), spread over DuckDB's threads. Without it, each ``cx_<name>`` is
    the Python function called row by row (the reference the tests compare with).
    """
    text, boolean = sqltypes.VARCHAR, sqltypes.BOOLEAN
    prefix = "normalise_py_" if sql_fast_paths else "cx_"
    # SPECIAL: the functions see NULL (as None) and may return NULL; with DEFAULT, DuckDB refuses a
    # NULL answer to a non-NULL input, and "no usable value" is exactly that. Side-effect free, so the
    # optimiser may fold and reuse results.
    for name, function in _NORMALISERS.items():
        con.create_function(
            prefix + name, function, [text], text, null_handling="special", side_effects=False
        )
    con.create_function(
        "cx_is_free_mail",
        domains.is_free_mail_or_null,
        [text],
        boolean,
        null_handling="special",
        side_effects=False,
    )
    if sql_fast_paths:
        con.create_function(
            "normalise_py_phone_e164_or_blank",
            normalise.phone_e164_au_or_blank,
            [text],
            text,
            side_effects=False,
        )
        # The lists are Python constants, spelled as SQL literals (a macro takes no parameters).
        macros = NORMALISE_SQL.read_text()
        macros = macros.replace("{free_mail_domains}", _sql_literals(domains.FREE_MAIL_DOMAINS))
        macros = macros.replace("{legal_suffixes_pattern}", "|".join(sorted(normalise.LEGAL_SUFFIXES)))
        con.execute(macros)
    return con


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

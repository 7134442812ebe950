"""Opening the project's DuckDB file, with one line a person can act on when it cannot be opened.

Every command opens the file through ``open_duckdb`` (and the extracts call ``check_duckdb_file``
before dlt touches it), so a truncated or corrupt file, or one another program holds, is named as
such instead of surfacing as a traceback from dlt or a hint about "credentials".

Moving a damaged file aside is safe: the extracts then read Capsule and Xero in full again
(pipelines/cursors.py: cursors never run ahead of the data in the file) and matching finds every
contact the tool made by its ContactNumber, so nothing is created twice. What is lost with the file
is this tool's own ledger (plans, audit rows, the error queue): earlier plans can no longer be
undone, and the first plan after counts as a first migration and waits for approval.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# What DuckDB says when the file is not a whole database (duckdb 2.0's wording): truncated, not a
# DuckDB file at all (zero bytes, another format, a garbled header), or a block whose checksum fails.
_DAMAGED = (
    (re.compile(r"Could not read enough bytes", re.I), "it is shorter than the blocks it holds: truncated"),
    (re.compile(r"not a valid DuckDB database file", re.I), "it is not a DuckDB database file"),
    (re.compile(r"Corrupt database file|checksum", re.I), "a block of it fails its checksum: corrupt"),
    (re.compile(r"Serialization Error|INTERNAL Error", re.I), "DuckDB cannot read its contents"),
)
_IN_USE = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)", re.I)


class DuckDBFileProblem(Exception):
    """The DuckDB file cannot be used; the message is one line saying why and what to do."""


class DuckDBFileDamaged(DuckDBFileProblem):
    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(
            f"{path} is damaged ({reason}). Move it aside (`mv {path} {path}.damaged`) and run "
            "`capsule-xero sync`: it reads Capsule and Xero in full again and creates nothing twice. "
            "The file also held this tool's ledger (plans, audit, error queue), so earlier plans can no "
            "longer be undone and the next plan waits for approval as a first migration; if you have a "
            "backup of the file, putting it back instead keeps that history (an older backup is safe)."
        )


class DuckDBFileInUse(DuckDBFileProblem):
    def __init__(self, path: Path, program: str | None, pid: str | None) -> None:
        self.path = path
        who = f"{program} (PID {pid})" if program and pid else "another program"
        super().__init__(
            f"{path} is open in {who}: DuckDB lets one program write it at a time. Close that program "
            "or let it finish, then run this again."
        )


def damaged_reason(exc: BaseException) -> str | None:
    """What is wrong with the file, when DuckDB's error says it is damaged; None otherwise."""
    text = str(exc)
    for pattern, reason in _DAMAGED:
        if pattern.search(text):
            return reason
    return None


def problem(path: Path, exc: BaseException) -> DuckDBFileProblem:
    """The one-line problem for a DuckDB error met opening or reading ``path``."""
    reason = damaged_reason(exc)
    if reason is not None:
        return DuckDBFileDamaged(path, reason)
    found = _IN_USE.search(str(exc))
    if found is not None or "Could not set lock" in str(exc):
        return DuckDBFileInUse(path, found and found["program"], found and found["pid"])
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return DuckDBFileProblem(f"Cannot open {path}: {first}")


# DuckDB's file starts with three 4 KiB headers (the main one and two database headers), then its
# blocks, all ``block_size`` long: a whole file is at least that long.
HEADERS_BYTES = 3 * 4096


# Files this process found whole, by what the file system says of them then: a file opened again
# unchanged (same inode, size and modification time) is not read block by block again (~0.2 s for a
# hundred tables, at every open of a sync). Cutting a file short changes its size and time.
_FOUND_WHOLE: dict[str, tuple[int, int, int]] = {}


def _signature(path: Path) -> tuple[int, int, int]:
    stat = Path(path).stat()
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _truncated(con: duckdb.DuckDBPyConnection, path: Path) -> bool:
    """DuckDB reads a block when a query first needs it, so a file cut short opens and then fails
    half-way through a command. A whole file holds every block in use: at least as many blocks as
    are in use, and the highest block any table's data sits in (free blocks at the end may be cut
    off by DuckDB itself, so the total count proves nothing)."""
    size = Path(path).stat().st_size
    block_size, used = con.execute("select block_size, used_blocks from pragma_database_size()").fetchone()
    if size < HEADERS_BYTES + int(block_size) * int(used):
        return True
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
    ).fetchall()
    highest = -1
    for schema, table in tables:
        row = con.execute(
            "select max(block_id) from pragma_storage_info(?) where persistent", [f'"{schema}"."{table}"']
        ).fetchone()
        if row and row[0] is not None:
            highest = max(highest, int(row[0]))
    return size < HEADERS_BYTES + int(block_size) * (highest + 1)


def open_duckdb(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, raising ``DuckDBFileProblem`` with one line instead of DuckDB's error, and
    ``DuckDBFileDamaged`` for a file shorter than its blocks (before any query meets the gap)."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise problem(Path(path), exc) from None
    try:
        key = str(Path(path).resolve())
        signature = _signature(path) if Path(path).exists() else None
        truncated = signature is not None and _FOUND_WHOLE.get(key) != signature and _truncated(con, path)
        if signature is not None and not truncated:
            _FOUND_WHOLE[key] = signature
    except duckdb.Error as exc:
        con.close()
        raise problem(Path(path), exc) from None
    if truncated:
        con.close()
        raise DuckDBFileDamaged(Path(path), "it is shorter than the blocks it holds: truncated")
    return con


def check_duckdb_file(path: Path) -> None:
    """Raise ``DuckDBFileProblem`` when ``path`` exists and cannot be opened (before dlt opens it)."""
    if Path(path).exists():
        open_duckdb(path, read_only=True).close()

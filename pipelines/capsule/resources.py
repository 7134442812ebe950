"""The Capsule source's dlt resources, one factory per way of reading (pipelines/capsule/__init__.py).

- ``parties_resource`` and ``incremental_records``: ``since`` = the ``updatedAt`` cursor less the
  overlap, with ``embed`` (``since`` exists on parties, opportunities and kases only:
  docs/api-facts.md#capsule-incremental-reads-and-deletions).
- ``deleted_feed``: ``/…/deleted?since=``, the only way deletions show, plus the records the token's
  user can no longer see.
- ``whole_list``: everything, every run, where the API has no ``since``.

Each takes the ``CapsuleConnection`` (pipelines/capsule/helpers.py), which signs in and paces at the
first request, so the source can be built before any credential is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dlt

from pipelines.capsule.helpers import CapsuleConnection, restricted, shaped, tombstone
from pipelines.capsule.settings import (
    DELETED_COLUMNS,
    DELETED_SINCE_START,
    LOADER_FILE_FORMAT,
    NESTED_COLUMNS,
    PARTY_COLUMNS,
    PARTY_EMBED,
    PARTY_NESTED,
    RECORD_EMBED,
    RECORD_NESTED,
    SINCE_OVERLAP_SECONDS,
    TABLES,
)


def _nested(names: tuple[str, ...]) -> dict[str, Any]:
    return {name: dlt.mark.make_nested_hints(columns=NESTED_COLUMNS[name]) for name in names}


def _shaped_pages(pages: Iterator[Any]) -> Iterator[Any]:
    for page in pages:
        yield [shaped(record) for record in page]


def since_of(cursor: Any) -> str | None:
    """A cursor's start as Capsule's ``since`` (ISO, UTC, to the second); None before the first run."""
    value = cursor.start_value
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def parties_resource(conn: CapsuleConnection) -> Any:
    """Parties, with their tags and custom fields embedded."""
    return incremental_records(conn, "parties", PARTY_COLUMNS, nested=PARTY_NESTED, embed=PARTY_EMBED)


def incremental_records(
    conn: CapsuleConnection,
    kind: str,
    columns: dict[str, Any],
    *,
    nested: tuple[str, ...] = RECORD_NESTED,
    embed: str = RECORD_EMBED,
) -> Any:
    """Parties, opportunities or kases: merged on ``id``, read ``since`` the ``updatedAt`` cursor."""

    @dlt.resource(
        name=kind,
        table_name=TABLES[kind],
        primary_key="id",
        write_disposition="merge",
        file_format=LOADER_FILE_FORMAT,
        columns=columns,
        nested_hints=_nested(nested),
    )
    def records(
        updated_at: dlt.sources.incremental[str] = dlt.sources.incremental(  # noqa: B008 (dlt's idiom)
            "updatedAt", initial_value=None, lag=SINCE_OVERLAP_SECONDS
        ),
    ) -> Iterator[list[dict[str, Any]]]:
        params: dict[str, Any] = {"embed": embed}
        if since := since_of(updated_at):
            params["since"] = since
        yield from _shaped_pages(conn.pages(f"/{kind}", kind, params))

    return records


def deleted_feed(conn: CapsuleConnection, kind: str, restricted_key: str) -> Any:
    """Tombstones of ``kind``, and (from the first page) the records now restricted for this user."""

    @dlt.resource(
        name=f"deleted_{kind}",
        table_name=TABLES[f"deleted_{kind}"],
        primary_key="id",
        write_disposition="merge",
        file_format=LOADER_FILE_FORMAT,
        columns=DELETED_COLUMNS,
    )
    def feed(
        deleted_at: dlt.sources.incremental[str] = dlt.sources.incremental(  # noqa: B008 (dlt's idiom)
            "deletedAt",
            initial_value=DELETED_SINCE_START,
            lag=SINCE_OVERLAP_SECONDS,
            on_cursor_value_missing="include",  # restricted records carry no deletedAt
        ),
    ) -> Iterator[list[dict[str, Any]]]:
        params = {"since": since_of(deleted_at) or DELETED_SINCE_START}
        for number, page in enumerate(conn.pages(f"/{kind}/deleted", kind, params)):
            rows = [tombstone(row) for row in page]
            if number == 0:  # the restricted list is repeated on every page
                body = page.response.json()
                rows += [restricted(row) for row in body.get(restricted_key) or []]
            yield rows

    return feed


def whole_list(
    conn: CapsuleConnection,
    name: str,
    path: str,
    key: str,
    columns: dict[str, Any],
    nested: tuple[str, ...] = (),
    **params: Any,
) -> Any:
    """A list the API has no ``since`` for: read whole every run, so it carries no cursor."""

    @dlt.resource(
        name=name,
        table_name=TABLES[name],
        primary_key="id",
        write_disposition="merge",
        file_format=LOADER_FILE_FORMAT,
        columns=columns,
        nested_hints=_nested(nested),
    )
    def listing() -> Iterator[list[dict[str, Any]]]:
        yield from _shaped_pages(conn.pages(path, key, params))

    return listing

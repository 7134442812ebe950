"""The Xero source's dlt resources: contacts, contact groups, users, and the drift found in each.

``xero_source`` (pipelines/xero/__init__.py) puts them together; what each reads is described there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dlt

from capsule_xero.xero.errors import DailyLimitReached
from pipelines.xero.drift import DriftDetector
from pipelines.xero.helpers import XeroApi, XeroRun
from pipelines.xero.paging import ModifiedSinceWalk
from pipelines.xero.records import convert_dates, modified_since_header, tidy_contact
from pipelines.xero.settings import (
    CONTACT_COLUMNS,
    CONTACT_NESTED_COLUMNS,
    CONTACTS_PATH,
    CONTACTS_TABLE,
    DRIFT_TABLE,
    GROUP_COLUMNS,
    GROUPS_PATH,
    GROUPS_TABLE,
    LOADER_FILE_FORMAT,
    USER_COLUMNS,
    USERS_PATH,
    USERS_TABLE,
    XeroExtractConfig,
)

DRIFT_KEY = ("object", "field", "change", "observed_type")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _full_read_due(
    state: dict[str, Any], cursor: datetime | None, config: XeroExtractConfig, now: datetime
) -> bool:
    if config.force_full_read or cursor is None:
        return True
    if config.full_read_every is None:
        return False
    last = _parse(state.get("last_full_read_at"))
    return last is None or now - last >= config.full_read_every


def contacts_resource(api: XeroApi, run: XeroRun) -> Any:
    """``xero_contacts``: incremental by ``If-Modified-Since``, a resumable full read when one is due."""
    config = api.config

    @dlt.resource(
        name=CONTACTS_TABLE,
        primary_key="ContactID",
        write_disposition="merge",
        file_format=LOADER_FILE_FORMAT,
        columns=CONTACT_COLUMNS,
        nested_hints={
            name: dlt.mark.make_nested_hints(columns=columns)
            for name, columns in CONTACT_NESTED_COLUMNS.items()
        },
    )
    def xero_contacts(
        # dlt's own idiom: the incremental is declared as the argument default.
        updated: dlt.sources.incremental[datetime] = dlt.sources.incremental(  # noqa: B008
            "UpdatedDateUTC", initial_value=None
        ),
    ) -> Iterator[list[dict[str, Any]]]:
        state = dlt.current.resource_state()
        now = config.now()
        full = state.get("full_read")
        if full is None and _full_read_due(state, updated.start_value, config, now):
            full = state["full_read"] = {"started_at": now.isoformat(), "resume_from": None}
        if full is not None:
            since = _parse(full["resume_from"])
            run.modes[CONTACTS_TABLE] = "full read" + (" (continued)" if since else "")
            # A full read re-reads what the cursor has passed: rows go through unfiltered and the
            # cursor follows the read, page by page, so a stopped full read resumes where it was.
            updated.advance(None)
        else:
            since = updated.start_value
            run.modes[CONTACTS_TABLE] = "incremental"
        walk = ModifiedSinceWalk(since, config.page_size, seen=state.get("tail") if since else None)
        number = 0
        try:
            for records, _ in api.pages(
                CONTACTS_PATH,
                "Contacts",
                walk,
                params={"includeArchived": "true", "order": "UpdatedDateUTC ASC"},
            ):
                number += 1
                fresh = [tidy_contact(record) for record in walk.fresh]
                run.count(CONTACTS_TABLE, 1, len(fresh))
                if full is not None and walk.max_ms is not None:
                    newest = datetime.fromtimestamp(walk.max_ms / 1000, tz=UTC)
                    full["resume_from"] = newest.isoformat()
                    updated.advance(newest)
                if config.on_page is not None:
                    config.on_page(CONTACTS_TABLE, number, len(records))
                if fresh:
                    yield fresh
        except DailyLimitReached as exc:
            run.stop(exc, CONTACTS_TABLE)
            return
        finally:
            # The records the next run's one-second overlap will read again, by ContactID and
            # UpdatedDateUTC, so they are not loaded twice (dlt's own boundary dedupe is off
            # while a full read pushes the cursor by hand).
            state["tail"] = walk.tail()
        if full is not None:
            del state["full_read"]
            state["last_full_read_at"] = full["started_at"]

    return xero_contacts


def groups_resource(api: XeroApi, run: XeroRun) -> Any:
    """``xero_contact_groups``: the whole list every run; a group that dropped out is written DELETED."""
    config = api.config

    # No dlt.sources.incremental here: GET /ContactGroups takes no If-Modified-Since and groups
    # carry no UpdatedDateUTC, so there is no cursor to keep. It is one call for every group.
    @dlt.resource(
        name=GROUPS_TABLE,
        primary_key="ContactGroupID",
        write_disposition="merge",
        file_format=LOADER_FILE_FORMAT,
        columns=GROUP_COLUMNS,
    )
    def xero_contact_groups() -> Iterator[list[dict[str, Any]]]:
        state = dlt.current.resource_state()
        try:
            pages = list(api.pages(GROUPS_PATH, "ContactGroups"))
        except DailyLimitReached as exc:
            run.stop(exc, GROUPS_TABLE)
            return
        groups = [
            g for records, _ in pages for g in records if isinstance(g, dict) and g.get("ContactGroupID")
        ]
        for group in groups:
            group.pop("Contacts", None)  # always empty in the list; membership comes with the contacts
        current = {g["ContactGroupID"]: g.get("Name") for g in groups}
        # The list holds ACTIVE groups only: one that dropped out was deleted.
        gone = [
            {"ContactGroupID": gid, "Name": name, "Status": "DELETED"}
            for gid, name in (state.get("known") or {}).items()
            if gid not in current
        ]
        state["known"] = current
        run.count(GROUPS_TABLE, len(pages), len(groups))
        if config.on_page is not None:
            config.on_page(GROUPS_TABLE, 1, len(groups))
        if groups or gone:
            yield convert_dates(groups + gone)

    return xero_contact_groups


def users_resource(api: XeroApi, run: XeroRun) -> Any:
    """``xero_users``: ``If-Modified-Since`` from its cursor (no paging in Xero)."""
    config = api.config

    @dlt.resource(
        name=USERS_TABLE,
        primary_key="UserID",
        write_disposition="merge",
        columns=USER_COLUMNS,
        file_format=LOADER_FILE_FORMAT,
    )
    def xero_users(
        # dlt's own idiom: the incremental is declared as the argument default.
        updated: dlt.sources.incremental[datetime] = dlt.sources.incremental(  # noqa: B008
            "UpdatedDateUTC", initial_value=None
        ),
    ) -> Iterator[list[dict[str, Any]]]:
        since = updated.start_value
        headers = {"If-Modified-Since": modified_since_header(since)} if since else {}
        try:
            pages = list(api.pages(USERS_PATH, "Users", headers=headers))
        except DailyLimitReached as exc:
            run.stop(exc, USERS_TABLE)
            return
        users = [convert_dates(u) for records, _ in pages for u in records if isinstance(u, dict)]
        run.count(USERS_TABLE, len(pages), len(users))
        if config.on_page is not None:
            config.on_page(USERS_TABLE, 1, len(users))
        if users:
            yield users

    return xero_users


def drift_transformer(parent: Any, detector: DriftDetector, run: XeroRun) -> Any:
    """Drift findings of ``parent``'s records, into ``xero_schema_drift`` with when each was first seen."""

    @dlt.transformer(
        name=f"{DRIFT_TABLE}_{parent.name.removeprefix('xero_')}",
        data_from=parent,
        table_name=DRIFT_TABLE,
        write_disposition="merge",
        file_format=LOADER_FILE_FORMAT,
        primary_key=DRIFT_KEY,
    )
    def drift(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        found = detector.check(items if isinstance(items, list) else [items])
        if not found:
            return
        first_seen = dlt.current.resource_state().setdefault("first_seen", {})
        for row in found:
            key = "|".join(str(row[k]) for k in DRIFT_KEY)
            row["first_seen_at"] = _parse(first_seen.setdefault(key, row["detected_at"].isoformat()))
        run.drift.extend(found)
        yield found

    return drift

"""Constants of the Capsule source: endpoints, paging, cursors, table names and declared columns.

Column hints declare the documented Capsule fields (docs/api-facts.md#capsule-parties,
docs/api-facts.md#capsule-custom-fields-and-tags, docs/api-facts.md#capsule-opportunities-kases-and-tasks) with their types, so
every documented column exists in DuckDB from the first load on, even when every value so far is
null (staging SQL can rely on them), and anything that shows up later is genuine drift (see
``drift.py``). Undocumented keys are still loaded (dlt schema evolution), and reported.
"""

from __future__ import annotations

from typing import Any

PIPELINE_NAME = "capsule"
SOURCE_NAME = "capsule"
DATASET_NAME = "raw"  # shared with the Xero source, hence the capsule_ prefix on every table
TABLE_PREFIX = "capsule_"

PER_PAGE = 100  # perPage 1..100, default 50 (docs/api-facts.md#capsule-paging): ask for the most
PARTY_EMBED = "tags,fields"  # without it tags/fields are absent, not empty (docs/api-facts.md#capsule-embed)
RECORD_EMBED = "tags,fields"  # opportunities and kases take the same embeds
TASK_STATUSES = "open,completed,pending"  # OPEN only unless asked (docs/api-facts.md#capsule-incremental-reads-and-deletions)

# docs/api-facts.md#capsule-incremental-reads-and-deletions: the `since` boundary (strict or inclusive) is undocumented, and a record can be written
# in the same second as the newest one we saw. Every incremental read re-reads this many seconds
# before the cursor; merge on `id` drops the duplicates.
SINCE_OVERLAP_SECONDS = 300
# Deleted feeds require `since` (422 without it); the first run reads every tombstone there is.
DELETED_SINCE_START = "1970-01-01T00:00:00Z"

# DuckDB reads jsonl load files natively: ~10x faster than dlt's default INSERT statements for it
# (10k parties: load step 1 s instead of 10 s), with the same column types.
LOADER_FILE_FORMAT = "jsonl"

REQUEST_TIMEOUT = (10.0, 60.0)  # connect, read (seconds); a hung request is retried

TABLES = {
    "parties": "capsule_parties",
    "users": "capsule_users",
    "party_field_definitions": "capsule_party_field_definitions",
    "tags": "capsule_tags",
    "opportunities": "capsule_opportunities",
    "kases": "capsule_kases",
    "tasks": "capsule_tasks",
    "deleted_parties": "capsule_deleted_parties",
    "deleted_opportunities": "capsule_deleted_opportunities",
    "deleted_kases": "capsule_deleted_kases",
}

Columns = dict[str, dict[str, Any]]


# The incremental cursors are declared under their raw names, the ones the `dlt.sources.incremental`
# cursor paths use; a snake_case twin would make dlt merge two hints into one column with a warning.
RAW_NAMES = {"updated_at": "updatedAt", "deleted_at": "deletedAt"}


def _cols(**types: str) -> Columns:
    """Declared columns; a record's own ``id`` is the only one that may not be null."""
    return {
        RAW_NAMES.get(name, name): {"data_type": data_type, "nullable": name != "id"}
        for name, data_type in types.items()
    }


_USER_REF = _cols(
    owner__id="bigint",
    owner__username="text",
    owner__name="text",
    owner__deleted="bool",
    owner__picture_url="text",
)
_TEAM_REF = _cols(team__id="bigint", team__name="text")


def _party_ref(prefix: str, person: bool = True) -> Columns:
    """A nested party reference ``{id,type,name|firstName,lastName,pictureURL}`` (docs/api-facts.md#capsule-parties)."""
    names = _cols(id="bigint", type="text", name="text", picture_url="text")
    if person:
        names.update(_cols(first_name="text", last_name="text"))
    return {f"{prefix}__{name}": {**spec, "nullable": True} for name, spec in names.items()}


PARTY_COLUMNS: Columns = {
    **_cols(id="bigint", type="text"),
    **_USER_REF,
    **_TEAM_REF,
    **_cols(
        about="text",
        title="text",
        first_name="text",
        last_name="text",
        job_title="text",
        name="text",
        created_at="timestamp",
        updated_at="timestamp",
        last_contacted_at="timestamp",
        picture_url="text",
    ),
    **_party_ref("organisation", person=False),
}

OPPORTUNITY_COLUMNS: Columns = {
    **_cols(id="bigint", name="text", description="text"),
    **_party_ref("party"),
    **_USER_REF,
    **_TEAM_REF,
    **_cols(
        milestone__id="bigint",
        milestone__name="text",
        value__currency="text",
        expected_close_on="date",
        probability="bigint",
        duration_basis="text",
        duration="bigint",
        closed_on="date",
        lost_reason__id="bigint",
        lost_reason__name="text",
        last_contacted_at="timestamp",
        last_stage_changed_at="timestamp",
        last_open_milestone__id="bigint",
        last_open_milestone__name="text",
        created_at="timestamp",
        updated_at="timestamp",
    ),
    # An amount in the opportunity's currency: exact cents, never a double (the JSON number is read as
    # a Decimal, helpers.make_client), so the money reports add it up exactly.
    "value__amount": {"data_type": "decimal", "precision": 18, "scale": 2, "nullable": True},
}

KASE_COLUMNS: Columns = {
    **_cols(id="bigint", name="text", description="text"),
    **_party_ref("party"),
    **_USER_REF,
    **_TEAM_REF,
    **_cols(
        status="text",
        stage__id="bigint",
        stage__name="text",
        opportunity__id="bigint",
        opportunity__name="text",
        expected_close_on="date",
        closed_on="date",
        start_on="date",
        last_contacted_at="timestamp",
        created_at="timestamp",
        updated_at="timestamp",
    ),
}

TASK_COLUMNS: Columns = {
    **_cols(
        id="bigint",
        description="text",
        detail="text",
        category__id="bigint",
        category__name="text",
        category__colour="text",
        due_on="date",
        due_time="text",  # a wall-clock time in the owner's timezone, not UTC (docs/api-facts.md#capsule-records-and-timestamps)
        status="text",
    ),
    **_party_ref("party"),
    **_cols(opportunity__id="bigint", opportunity__name="text", kase__id="bigint", kase__name="text"),
    **_USER_REF,
    **_cols(
        completed_by="text",
        completed_at="timestamp",
        created_at="timestamp",
        updated_at="timestamp",
        days_after="bigint",
        task_delay_rule="text",
        task_day_delay_rule="text",
        next_task__id="bigint",
        has_track="bool",
        active="bool",
    ),
}

USER_COLUMNS: Columns = _cols(
    id="bigint",
    username="text",
    name="text",
    locale="text",
    currency="text",
    timezone="text",
    status="text",
    last_login_at="timestamp",
    task_reminder="bool",
    party__id="bigint",
    party__type="text",
    party__first_name="text",
    party__last_name="text",
    party__picture_url="text",
)

DEFINITION_COLUMNS: Columns = _cols(
    id="bigint",
    name="text",
    type="text",
    display_order="bigint",
    description="text",
    important="bool",
    capture_rule="text",
    tag__id="bigint",
    tag__name="text",
    tag__data_tag="bool",
)

TAG_COLUMNS: Columns = _cols(id="bigint", name="text", description="text", data_tag="bool")

# One row per tombstone (`restricted` false, `deleted_at` set) or per record the token's user can no
# longer see (`restricted` true, `deleted_at` null: treat as gone for this user,
# docs/api-facts.md#capsule-incremental-reads-and-deletions).
DELETED_COLUMNS: Columns = _cols(id="bigint", deleted_at="timestamp", restricted="bool", type="text")


# Nested lists become child tables (<table>__<list>), linked by _dlt_parent_id / _dlt_root_id and
# replaced with their parent on every merge. Custom-field values are kept as text (see helpers).
# A nested row's `id` may be null: one odd row must not fail the whole load.
def _nested_cols(**types: str) -> Columns:
    return {name: {**spec, "nullable": True} for name, spec in _cols(**types).items()}


NESTED_COLUMNS: dict[str, Columns] = {
    "addresses": _nested_cols(
        id="bigint", type="text", street="text", city="text", state="text", country="text", zip="text"
    ),
    "phoneNumbers": _nested_cols(id="bigint", type="text", number="text"),
    "emailAddresses": _nested_cols(id="bigint", type="text", address="text"),
    "websites": _nested_cols(id="bigint", type="text", service="text", address="text", url="text"),
    "tags": _nested_cols(id="bigint", name="text", data_tag="bool"),
    "fields": _nested_cols(
        id="bigint", definition__id="bigint", definition__name="text", value="text", tag_id="bigint"
    ),
    "options": _nested_cols(value="text"),  # a list definition's choices (plain strings)
}
PARTY_NESTED = ("addresses", "phoneNumbers", "emailAddresses", "websites", "tags", "fields")
RECORD_NESTED = ("tags", "fields")
DEFINITION_NESTED = ("options",)

# Every table this source promises, with its declared columns (children: (parent, list name)).
DECLARED_TABLES: dict[str, dict[str, Any]] = {
    TABLES["parties"]: PARTY_COLUMNS,
    TABLES["users"]: USER_COLUMNS,
    TABLES["party_field_definitions"]: DEFINITION_COLUMNS,
    TABLES["tags"]: TAG_COLUMNS,
    TABLES["opportunities"]: OPPORTUNITY_COLUMNS,
    TABLES["kases"]: KASE_COLUMNS,
    TABLES["tasks"]: TASK_COLUMNS,
    **{TABLES[f"deleted_{kind}"]: DELETED_COLUMNS for kind in ("parties", "opportunities", "kases")},
}
DECLARED_CHILDREN: dict[str, tuple[str, ...]] = {
    TABLES["parties"]: PARTY_NESTED,
    TABLES["opportunities"]: RECORD_NESTED,
    TABLES["kases"]: RECORD_NESTED,
    TABLES["party_field_definitions"]: DEFINITION_NESTED,
}

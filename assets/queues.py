"""The queues that wait for a person, worked in the Dagster UI (docs/operations.md#the-review-queue,
docs/operations.md#the-error-queue): the review queue, the quarantine and the error queue.

Each shows on the asset that fills it — ``reports/views``, ``staging/quarantine`` and
``reverse_etl/xero_contacts_written`` — as metadata: its size, counts by reason, and the first
``SAMPLE_ROWS`` rows with the Capsule party id and what to do, beside the command that lists it all.
A check per queue WARNs (never blocks: the rest of the sync goes on) while something in it waits for
a person, and names what settles it; it passes when nothing waits.

``release_error_queue_item`` is ``capsule-xero retry PARTY`` in the Launchpad: it releases a dead
entry so the next sync sends its write again, as it is (reverse_etl/apply/error_queue.py ``release``).
Release means "send again", not "forget": dropping the entry would lose Xero's reason, and a write
that fails again simply waits again with it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets.resources import DUCKDB_POOL
from assets.stages import asset_key, counts_table
from assets.tenancy import tenant_tags
from reverse_etl.apply.error_queue import release
from reverse_etl.sqlfile import SqlFile, has_table
from transform.reports import why_unavailable

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "queues.sql")
SAMPLE_ROWS = 20
WRITER = dg.AssetKey(["reverse_etl", "xero_contacts_written"])
RELEASE_JOB = "release_error_queue_item"
RELEASE_OP = "release_dead_entry"

# What settles each kind of review item (docs/operations.md#the-review-queue).
REVIEW_ACTIONS = {
    "match": 'set the Capsule party\'s "Xero Contact ID" field to the right ContactID, or fix the data that makes the match unsure',
    "capsule_duplicate": "merge the two parties in Capsule, or correct the ABN of one",
    "xero_duplicate": "merge the contacts in Xero (they look like one business)",
    "conflict": "correct the field where it is wrong (Capsule or Xero), or change conflicts.policy",
    "preflight": "rename it (Name or ContactNumber) so Xero takes it, or change name_collision in the rules file",
    "planned_reject": "fix the value in Capsule so Xero takes it",
    "held": "restore the contact in Xero if it should sync again; until then it is left alone",
    "capsule_create": 'link the Xero contact to the party (its "Xero Contact ID" field), or merge it in Xero',
}


@dataclass(frozen=True)
class QueueView:
    """One queue as the UI shows it: counts by reason, the first rows, and how many wait for a person."""

    name: str
    counts: dict[str, int]
    sample: list[dict[str, Any]]
    waiting: int
    settle: str
    listing: str
    unavailable: str | None = None
    columns: tuple[str, ...] = field(default=())

    @property
    def size(self) -> int:
        return sum(self.counts.values())


def _sample(con: duckdb.DuckDBPyConnection, statement: str) -> list[dict[str, Any]]:
    return SQL.rows(con, statement, {"limit": SAMPLE_ROWS})


def _counts(con: duckdb.DuckDBPyConnection, statement: str) -> dict[str, int]:
    return {row["reason"]: int(row["items"]) for row in SQL.rows(con, statement)}


def review_queue_view(con: duckdb.DuckDBPyConnection) -> QueueView:
    """``reports.review_queue``: every item waits for a person until it is settled where it belongs."""
    settle = (
        "settle each item where it belongs (the what_to_do column), then run a sync; "
        "`capsule-xero report review_queue` lists them all"
    )
    listing = "capsule-xero report review_queue --csv review_queue.csv"
    unavailable = why_unavailable(con, "review_queue")
    if unavailable:
        return QueueView("review_queue", {}, [], 0, settle, listing, unavailable)
    counts = _counts(con, "review_queue_counts")
    sample = [
        {**row, "what_to_do": REVIEW_ACTIONS.get(row["kind"], "settle it where it belongs")}
        for row in _sample(con, "review_queue_sample")
    ]
    columns = ("kind", "party_id", "contact_id", "name", "reason", "what_to_do")
    return QueueView("review_queue", counts, sample, sum(counts.values()), settle, listing, None, columns)


def quarantine_view(con: duckdb.DuckDBPyConnection) -> QueueView:
    """``staging.quarantine``: Capsule values a row rule holds back until they are fixed in Capsule."""
    settle = "fix each value in Capsule (the what_to_do column); the next sync sends it"
    listing = "capsule-xero report quarantine --csv quarantine.csv"
    if not has_table(con, "staging", "quarantine"):
        return QueueView("quarantine", {}, [], 0, settle, listing, "not built yet: run a sync first")
    counts = _counts(con, "quarantine_counts")
    sample = [
        {**row, "what_to_do": f"fix {row['field'] or 'the record'} of party {row['party_id']} in Capsule"}
        for row in _sample(con, "quarantine_sample")
    ]
    columns = ("party_id", "name", "rule", "field", "value", "effect", "what_to_do")
    return QueueView("quarantine", counts, sample, sum(counts.values()), settle, listing, None, columns)


def release_action(party_id: int) -> str:
    """The two ways a person releases a dead entry: the command, and the job in the Launchpad."""
    return (
        f"`capsule-xero retry {party_id}`, or launch the {RELEASE_JOB} job with"
        f" `ops: {{{RELEASE_OP}: {{config: {{party_id: {party_id}}}}}}}`"
    )


def _error_action(row: dict[str, Any]) -> str:
    if row["situation"] == "retrying":
        due = row["next_attempt_at"]
        return f"nothing: sent again by the first sync after {due:%Y-%m-%d %H:%M %Z}" if due else "nothing"
    if row["situation"] == "sent_again_by_the_next_sync":
        return "nothing: the next sync sends it again"
    return f"fix the record in Capsule or Xero (the next sync sends it), or release it: {release_action(row['party_id'])}"


def error_queue_view(con: duckdb.DuckDBPyConnection) -> QueueView:
    """``ledger.error_queue``: writes Xero refused; the dead ones with their refused inputs wait for a person."""
    settle = (
        "fix the record in Capsule or Xero, or release it to be sent again as it is: "
        f"`capsule-xero retry PARTY`, or the {RELEASE_JOB} job (party_id in its run config)"
    )
    listing = "capsule-xero status"
    if not has_table(con, "ledger", "error_queue") or not has_table(con, "ledger", "error_queue_inputs"):
        return QueueView("error_queue", {}, [], 0, settle, listing)
    counts = _counts(con, "error_queue_counts")
    sample = [{**row, "what_to_do": _error_action(row)} for row in _sample(con, "error_queue_sample")]
    ((waiting,),) = SQL.execute(con, "error_queue_waiting").fetchall()
    columns = (
        "party_id",
        "contact_id",
        "situation",
        "operation",
        "error_kind",
        "message",
        "attempts",
        "next_attempt_at",
        "what_to_do",
    )
    return QueueView("error_queue", counts, sample, int(waiting), settle, listing, None, columns)


def _cell(value: Any) -> str | int | float | bool | None:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M %Z}".strip()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def sample_table(view: QueueView) -> dg.TableMetadataValue:
    """The first rows as a table in the UI (every cell text or a number: Dagster's table metadata)."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name) for name in view.columns])
    records = [dg.TableRecord({name: _cell(row.get(name)) for name in view.columns}) for row in view.sample]
    return dg.MetadataValue.table(records, schema)


def queue_metadata(view: QueueView) -> dict[str, Any]:
    """The queue on its asset: size, counts by reason, the first rows, and the command for all of it."""
    name = view.name
    if view.unavailable:
        return {name: 0, f"{name}_not_read": view.unavailable}
    more = view.size - len(view.sample)
    return {
        name: view.size,
        f"{name}_waiting_for_a_person": view.waiting,
        f"{name}_by_reason": counts_table(view.counts, "reason"),
        f"{name}_first_rows": sample_table(view),
        f"{name}_all_rows": dg.MetadataValue.md(
            (f"{more:,} more not shown. " if more > 0 else "")
            + f"Every row: `{view.listing}`. What settles it: {view.settle}."
        ),
    }


def check_result(view: QueueView) -> dg.AssetCheckResult:
    """WARN while something waits for a person, naming what settles it; passed when nothing waits."""
    if view.unavailable:
        return dg.AssetCheckResult(
            passed=True,
            description=f"Not checked: {view.name} {view.unavailable}.",
            metadata={"not_checked": view.unavailable},
        )
    sample_ids = sorted({row["party_id"] for row in view.sample if row.get("party_id") is not None})
    metadata = {**queue_metadata(view), "sample_ids": dg.MetadataValue.json([str(i) for i in sample_ids])}
    if not view.waiting:
        return dg.AssetCheckResult(
            passed=True,
            description=f"Nothing waits for a person in the {view.name.replace('_', ' ')}.",
            metadata=metadata,
        )
    reasons = ", ".join(f"{reason}: {items:,}" for reason, items in sorted(view.counts.items()))
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{view.waiting:,} {'item waits' if view.waiting == 1 else 'items wait'} for a person in the"
            f" {view.name.replace('_', ' ')} ({reasons}). To settle: {view.settle}."
        ),
        metadata=metadata,
    )


ReadQueue = Callable[[duckdb.DuckDBPyConnection], QueueView]

QUEUES: dict[str, tuple[str, ReadQueue, str]] = {
    "review_queue_is_empty": (
        "reports.views",
        review_queue_view,
        "Warns while the review queue holds items the sync will not decide for you (docs/operations.md#the-review-queue).",
    ),
    "quarantine_is_empty": (
        "staging.quarantine",
        quarantine_view,
        "Warns while Capsule values are held back by a row rule until fixed in Capsule "
        "(docs/operations.md#the-review-queue).",
    ),
    "no_error_queue_item_waits_for_a_person": (
        "reverse_etl.xero_contacts_written",
        error_queue_view,
        "Warns while writes Xero refused wait for a person: fix the record or release it "
        "(docs/operations.md#the-error-queue).",
    ),
}


def _queue_check(
    name: str, table: str, read: ReadQueue, description: str, partitions_def: dg.PartitionsDefinition | None
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset_key(table), name=name, description=description, partitions_def=partitions_def)
    def check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            return check_result(read(con))

    return check


def build_queue_checks(
    partitions_def: dg.PartitionsDefinition | None = None,
) -> list[dg.AssetChecksDefinition]:
    """One WARN check per queue; with tenants, partitioned as their assets are (assets/tenancy.py)."""
    return [
        _queue_check(name, table, read, description, partitions_def)
        for name, (table, read, description) in QUEUES.items()
    ]


def error_queue_metadata(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The error queue as it stands, for the writer's materialisation."""
    return queue_metadata(error_queue_view(con))


def with_error_queue(duckdb: DuckDBResource, result: dg.MaterializeResult) -> dg.MaterializeResult:
    """The writer's materialisation with the error queue as it stands after the write."""
    with duckdb.get_connection() as con:
        queue = error_queue_metadata(con)
    return dg.MaterializeResult(metadata={**(result.metadata or {}), **queue})


# ---- releasing a dead entry ------------------------------------------------------------------------


class NotWaiting(ValueError):
    """The party has no dead entry in the error queue, so there is nothing to release."""


def release_item(con: duckdb.DuckDBPyConnection, party_id: int) -> str:
    """Release party ``party_id``'s dead entry: the next sync sends its write again, as it is. Returns
    what was done in one line; ``NotWaiting`` (one line naming the party) when nothing waits."""
    if not has_table(con, "ledger", "error_queue"):
        raise NotWaiting(f"Party {party_id} is not in the error queue: nothing has been refused yet.")
    rows = SQL.rows(con, "error_queue_item", {"party_id": party_id})
    if not rows:
        raise NotWaiting(
            f"Party {party_id} is not in the error queue: the table on {WRITER.to_user_string()}"
            " (or `capsule-xero status`) lists what waits."
        )
    (row,) = rows
    if row["state"] != "dead":
        due = row["next_attempt_at"]
        when = f"the first sync after {due:%Y-%m-%d %H:%M %Z}" if due else "the next sync"
        raise NotWaiting(f"Party {party_id} is not dead but retrying: {when} sends it again by itself.")
    release(con, [party_id])
    return f"Released party {party_id} ({row['message']}): the next sync sends its write to Xero again."


class ReleaseConfig(dg.Config):
    """Which dead error-queue entry to release."""

    party_id: int = Field(
        description="The Capsule party id of the entry, as the error queue's table on "
        "reverse_etl/xero_contacts_written (or its check) shows it."
    )


@dg.op(name=RELEASE_OP, pool=DUCKDB_POOL)
def release_dead_entry(context: dg.OpExecutionContext, config: ReleaseConfig, duckdb: DuckDBResource) -> None:
    """Release one dead error-queue entry so the next sync sends its write again, as it is."""
    # Raised after the connection is closed: dagster_duckdb's get_connection closes it only when its
    # block ends without an exception, and a connection left open keeps the file from other openers.
    with duckdb.get_connection() as con:
        try:
            said, refused = release_item(con, config.party_id), None
        except NotWaiting as error:
            said, refused = "", str(error)
    if refused is not None:
        raise dg.Failure(description=refused, allow_retries=False)
    context.log.info(said)


def build_release_job(partitions_def: dg.PartitionsDefinition | None = None) -> dg.JobDefinition:
    """The job ``release_error_queue_item``; with tenants, one client's queue per run (its partition)."""
    description = (
        "Release a record Xero refused, waiting dead in the error queue, so the next sync sends it again "
        "as it is (`capsule-xero retry PARTY` does the same). Run config: the party_id "
        "(docs/operations.md#the-error-queue)."
    )
    if partitions_def is None:
        return dg.job(name=RELEASE_JOB, description=description)(_release_graph)
    return dg.job(
        name=RELEASE_JOB,
        description=description,
        config=dg.PartitionedConfig(
            partitions_def=partitions_def,
            run_config_for_partition_key_fn=lambda _key: {},
            tags_for_partition_key_fn=tenant_tags,
        ),
    )(_release_graph)


def _release_graph() -> None:
    release_dead_entry()

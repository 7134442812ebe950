"""Diff, settle and plan (DESIGN.md, data flow 6-7): the reconcile models after the desired and current
contacts, built in order. No Dagster here; the asset definitions wrap ``build_plan_tables``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from capsule_xero.rules import COMPARED_FIELDS
from reverse_etl.ledger.schema import ensure_ledger
from transform.sql import build

# Each model reads only the ones before it (transform/sql/reconcile/README.md).
PLAN_MODELS = (
    "contact_targets",
    "contact_diffs",
    "conflict_settlements",
    "operation_drafts",
    "preflight_problems",
    "contact_operations",
)

CONFLICT_POLICIES = ("newest_wins", "capsule_wins", "xero_wins", "manual")
NAME_COLLISION_POLICIES = ("suffix", "link", "review")


def check_plan_params(params: Mapping[str, Any]) -> None:
    """Refuse values the models would otherwise read as a silent default."""
    if params["conflict_policy"] not in CONFLICT_POLICIES:
        raise ValueError(
            f"conflict_policy must be one of {CONFLICT_POLICIES}, not {params['conflict_policy']!r}"
        )
    if params["name_collision"] not in NAME_COLLISION_POLICIES:
        raise ValueError(
            f"name_collision must be one of {NAME_COLLISION_POLICIES}, not {params['name_collision']!r}"
        )
    unknown = set(params["xero_owned_fields"]) - set(COMPARED_FIELDS)
    if unknown:
        raise ValueError(f"xero_owned_fields names fields that are not compared: {sorted(unknown)}")


def build_plan_tables(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any]) -> dict[str, int]:
    """Build the plan's tables in ``reconcile`` from the desired and current contacts and the ledger.

    ``params`` are the rules parameters (``Rules.sql_params()``); each model binds the ones it names.
    Returns the row count of each table built, in build order.
    """
    check_plan_params(params)
    ensure_ledger(con)
    return {table: build(con, "reconcile", table, params) for table in PLAN_MODELS}

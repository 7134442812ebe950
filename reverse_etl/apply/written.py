"""``ledger.written_contacts`` as the apply loop reads and writes it: the base of the next three-way diff,
each field after a write by the rule in reverse_etl/ledger/sql/written_contacts.sql (the value sent;
for a kept field, the Capsule value it was compared with; otherwise the value Xero holds).

Groups are recorded only once Xero holds them (reverse_etl/apply/groups.py), so a contact write records
``contact_groups`` as Xero held them before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from capsule_xero.rules.fields import COMPARED_FIELDS
from reverse_etl.ledger.values import canonical
from reverse_etl.plans.model import PlanOperation
from reverse_etl.sqlfile import SqlFile, has_table
from reverse_etl.writers.payloads import NOT_SENT

log = logging.getLogger(__name__)

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "written_contacts.sql")


@dataclass
class PlanTimeValues:
    """Values the plan does not carry but the ledger rule needs: Xero's value of a field not sent, and
    the Capsule value of a kept field. Read from the reconcile tables the plan was made from
    (``reconcile.current_contacts`` / ``reconcile.desired_contacts``): an approved plan that is not
    stale is the newest, so those tables are its snapshot. Without them: the ledger's last value."""

    current: dict[str, dict[str, Any]]
    desired: dict[int, dict[str, Any]]

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, ops: list[PlanOperation]) -> PlanTimeValues:
        ids = sorted({op.contact_id.lower() for op in ops if op.contact_id})
        parties = sorted({op.party_id for op in ops if op.kept_fields})
        current: dict[str, dict[str, Any]] = {}
        desired: dict[int, dict[str, Any]] = {}
        if ids and has_table(con, "reconcile", "current_contacts"):
            current = {r["contact_id"]: r for r in SQL.rows(con, "plan_time_xero", {"contact_ids": ids})}
        if parties and has_table(con, "reconcile", "desired_contacts"):
            rows = SQL.rows(con, "plan_time_capsule", {"party_ids": parties})
            desired = {int(r["party_id"]): r for r in rows}
        return cls(current, desired)

    def xero(self, op: PlanOperation, name: str, existing: Mapping[str, Any] | None) -> str | None:
        if name in op.before_values:
            return canonical(op.before_values[name])
        record = self.current.get(str(op.contact_id).lower())
        if record is not None:
            return canonical(record.get(name))
        return existing[name] if existing else None

    def capsule(self, op: PlanOperation, name: str, existing: Mapping[str, Any] | None) -> str | None:
        if name in op.after:
            return canonical(op.after[name])
        record = self.desired.get(op.party_id)
        if record is not None:
            return canonical(record.get(name))
        log.warning(
            "plan %s party %s: no Capsule value for the kept field %s; the ledger keeps Xero's",
            op.plan_id,
            op.party_id,
            name,
        )
        return self.xero(op, name, existing)


class WrittenContacts:
    """The ledger rows of the contacts a run touches: read once per batch, kept as written."""

    def __init__(self, con: duckdb.DuckDBPyConnection, ops: list[PlanOperation]) -> None:
        self.con = con
        self.ops = ops
        self._rows: dict[str, dict[str, Any] | None] = {}
        self._values: PlanTimeValues | None = None

    def values(self) -> PlanTimeValues:
        if self._values is None:
            self._values = PlanTimeValues.load(self.con, self.ops)
        return self._values

    def read(self, contact_ids: Iterable[str | None]) -> None:
        """Read the ledger rows of these contacts (one query for a batch) into the run's cache."""
        wanted = sorted({c.lower() for c in contact_ids if c} - set(self._rows))
        if not wanted:
            return
        found = {r["contact_id"]: r for r in SQL.rows(self.con, "written_contacts", {"contact_ids": wanted})}
        for contact_id in wanted:
            self._rows[contact_id] = found.get(contact_id)

    def get(self, contact_id: str) -> dict[str, Any] | None:
        self.read([contact_id])
        return self._rows[contact_id.lower()]

    def set_groups(self, contact_id: str, value: str | None) -> None:
        """The groups Xero now holds for a contact written this run."""
        if self._rows.get(contact_id) is not None:
            self._rows[contact_id]["contact_groups"] = value  # type: ignore[index]

    def after_write(self, op: PlanOperation, contact_id: str) -> dict[str, Any]:
        """The contact's compared fields and status once ``op`` landed (kept as this run's row)."""
        existing = self.get(contact_id)
        values: dict[str, Any] = {}
        if op.operation == "archive":
            # Archiving changes only contact_status.
            for name in COMPARED_FIELDS:
                values[name] = existing[name] if existing else self.values().xero(op, name, existing)
            values["contact_status"] = "ARCHIVED"
        else:
            for name in COMPARED_FIELDS:
                values[name] = self._field_value(op, name, existing)
            values["contact_status"] = "ACTIVE"
        self._rows[contact_id] = {"contact_id": contact_id, **values}
        return values

    def _field_value(self, op: PlanOperation, name: str, existing: Mapping[str, Any] | None) -> str | None:
        if name == "contact_number" and op.contact_number:
            return op.contact_number  # sent on every create, update and restore
        if name == "contact_groups" and name in op.changed_fields:
            # Recorded as Xero held them until the group step has set them (see the module docstring).
            return None if op.operation == "create" else canonical(op.before_values.get(name))
        if name in op.changed_fields and name not in NOT_SENT:
            return canonical(op.after.get(name))
        if name in op.kept_fields:
            return self.values().capsule(op, name, existing)
        if op.operation == "create":
            return None  # a new contact holds nothing it was not sent
        return self.values().xero(op, name, existing)

"""A generated world served by the sandbox and synced end to end the way ``capsule-xero sync --apply``
does it (cli/app.py: ``_extract_both`` → ``_reconcile_and_plan`` → approve → ``apply_plan``),
with test-sized waits: the sandbox clock runs ``SPEED`` times fast and the Xero pacing's minute is
shortened to match, so Xero's real limits (60 calls a minute) hold in scaled time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx

from capsule_xero.capsule.pacing import CapsulePacer
from capsule_xero.progress import Progress
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from capsule_xero.xero.pacing import PacingPolicy
from capsule_xero.xero.transports import reset_pacers
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from pipelines.xero.settings import XeroExtractConfig
from reverse_etl.apply.loop import apply_plan
from reverse_etl.apply.result import ApplyResult
from reverse_etl.plans.approval import approve
from reverse_etl.plans.create import create_plan
from reverse_etl.plans.model import Plan
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.app import Sandbox
from sandbox.generator import Dataset
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from transform.stages import reconcile

# A Xero minute lasts 1/SPEED of a real one in the sandbox, and the client's pacing agrees.
SPEED = 60.0
PACING = PacingPolicy(
    minute_seconds=60.0 / SPEED,
    read_timeout=0.5,
    connect_timeout=1.0,
    backoff_initial=0.02,
    backoff_max=0.2,
    backoff_jitter=0.0,
)
FIELD = "Xero Contact ID"


def fast_capsule_pacer() -> CapsulePacer:
    return CapsulePacer(
        backoff_initial=0.02, backoff_max=0.2, backoff_jitter=0.0, max_wait=10.0, reset_margin=0.05
    )


@dataclass
class SyncRun:
    """What one ``sync --apply`` did."""

    plan: Plan
    approved: bool = False
    result: ApplyResult | None = None
    xero_writes: list[dict[str, Any]] = field(default_factory=list)


class World:
    """One sandbox serving ``dataset`` and one capsule-xero home signed in to its Xero organisation."""

    def __init__(self, dataset: Dataset, home: Path, *, sandbox_seed: int = 7) -> None:
        self.dataset = dataset
        self.sandbox = Sandbox(seed=sandbox_seed, speed=SPEED)
        self.sandbox.load(dataset)
        self.server = SandboxServer(self.sandbox).start()
        self.settings = Settings.from_env(self.server.env() | {"CAPSULE_XERO_HOME": str(home)})
        reset_pacers()
        self.auth = XeroAuth(self.settings)
        login(
            self.auth,
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True, timeout=30),
        )
        self.rules = Rules()

    def close(self) -> None:
        self.server.stop()
        reset_pacers()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the sync ----------------------------------------------------------------------------
    def extract(self) -> None:
        extract_capsule(self.settings)
        run_xero_extract(self.settings, options=replace(XeroExtractConfig(), pacing=PACING))

    def sync(
        self,
        *,
        approve_first: bool = True,
        interrupt: Callable[[XeroContactWriter, CapsuleWriteBack], None] | None = None,
        now: datetime | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> SyncRun:
        """Extract both systems, reconcile, plan, approve a waiting plan, apply: ``sync --apply``
        after ``approve`` (the CLI's order), each step on the real clock as the CLI runs it.
        ``interrupt`` may wrap the writers' methods (e.g. to die part-way, as a killed process);
        ``now`` is the time the plan and the error queue go by (the real time when None);
        ``on_progress`` is handed to ``apply_plan``."""
        since = self.last_call()
        self.extract()
        with duckdb.connect(str(self.settings.duckdb_path)) as con:
            reconcile(con, self.rules)
            plan = create_plan(con, self.rules, now=now)
            run = SyncRun(plan)
            if plan.status == "pending_approval" and approve_first:
                approve(con, plan.plan_id)
                run.approved = True
            if plan.status != "empty" and (run.approved or not plan.waits_for_approval):
                with (
                    XeroContactWriter(self.settings, self.auth, policy=PACING) as writer,
                    CapsuleWriteBack(self.settings, pacer=fast_capsule_pacer()) as back,
                ):
                    if interrupt is not None:
                        interrupt(writer, back)
                    run.result = apply_plan(
                        con,
                        self.settings,
                        self.rules,
                        plan.plan_id,
                        writer=writer,
                        capsule=back,
                        now=now,
                        on_progress=on_progress,
                    )
        run.xero_writes = self.xero_writes(since)
        return run

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.settings.duckdb_path))

    # ---- the sandbox's side ----------------------------------------------------------------------
    def last_call(self) -> int:
        return self.server.call(lambda: self.sandbox.calls.last_seq())

    def xero_writes(self, since: int) -> list[dict[str, Any]]:
        return [
            c.as_dict()
            for c in self.server.call(lambda: self.sandbox.calls.records("xero", since))
            if c.method in {"POST", "PUT", "DELETE"} and "/api.xro/" in c.path
        ]


# ---- what each system holds ----------------------------------------------------------------------


def xero_contacts(world: World) -> list[dict[str, Any]]:
    """Every contact of the organisation (archived too), as the sandbox's control API shows them."""
    with XeroControl(world.server.xero_url) as control:
        return control.contacts()


def by_contact_number(contacts: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Contacts by ContactNumber: a list each, so a duplicate shows."""
    out: dict[str, list[dict[str, Any]]] = {}
    for contact in contacts:
        if contact.get("ContactNumber"):
            out.setdefault(contact["ContactNumber"], []).append(contact)
    return out


def capsule_field_values(world: World, name: str = FIELD) -> dict[int, Any]:
    """The custom field ``name`` of every live Capsule party that has it, read from the sandbox's store."""

    def read() -> dict[int, Any]:
        out: dict[int, Any] = {}
        for party_id, party in world.sandbox.capsule.parties.by_id.items():
            for value in party.get("fields") or []:
                if value["definition"]["name"] == name:
                    out[party_id] = value["value"]
        return out

    return world.server.call(read)


def xero_state(world: World) -> dict[str, tuple[Any, ...]]:
    """What the soak compares: ContactNumber → (Name, e-mail, TaxNumber, status, group names)."""
    return {
        contact["ContactNumber"]: (
            contact.get("Name"),
            contact.get("EmailAddress"),
            contact.get("TaxNumber"),
            contact["ContactStatus"],
            tuple(sorted(group["Name"] for group in contact.get("ContactGroups") or [])),
        )
        for contact in xero_contacts(world)
        if contact.get("ContactNumber")
    }

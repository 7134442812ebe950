"""The sandbox as one object: shared clock, call log and fault plan, plus each API's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.calls import CallLog
from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from sandbox.generator import Dataset


class Sandbox:
    """Everything the stand-ins know. Mutated only on the server's event-loop thread."""

    def __init__(self, *, seed: int = 0, speed: float = 1.0) -> None:
        from sandbox.capsule.state import CapsuleState
        from sandbox.xero.state import XeroState

        self.seed = seed
        self.clock = SandboxClock(speed)
        self.calls = CallLog()
        self.faults = FaultPlan(seed)
        self.xero = XeroState(self)
        self.capsule = CapsuleState(self)

    def load(self, dataset: Dataset) -> None:
        """Replace both systems' records with a generated dataset."""
        self.capsule.load(dataset)
        self.xero.load(dataset)

    def xero_app(self) -> ASGIApp:
        from sandbox.xero.app import build_app

        return build_app(self)

    def capsule_app(self) -> ASGIApp:
        from sandbox.capsule.app import build_app

        return build_app(self)

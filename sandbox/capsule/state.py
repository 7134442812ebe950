"""PLACEHOLDER — replaced by the Capsule store."""

from __future__ import annotations

from typing import Any


class CapsuleState:
    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox

    def load(self, dataset: Any) -> None:
        pass

    def demo_env(self) -> dict[str, str]:
        return {}

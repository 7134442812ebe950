"""PLACEHOLDER — replaced by the contacts/groups/users/history store."""

from __future__ import annotations

from typing import Any


class Organisation:
    def __init__(self, sandbox: Any, tenant_id: str, name: str) -> None:
        self.sandbox = sandbox
        self.tenant_id = tenant_id
        self.name = name

    def load(self, dataset: Any) -> None:
        pass

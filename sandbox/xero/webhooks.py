"""PLACEHOLDER — replaced by the webhook implementation."""

from __future__ import annotations

from typing import Any


class WebhookState:
    def __init__(self, sandbox: Any, xero: Any) -> None:
        self.sandbox = sandbox
        self.xero = xero


def admin_routes(sandbox: Any) -> list:
    return []

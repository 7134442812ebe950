"""PLACEHOLDER — replaced by the identity/OAuth implementation."""

from __future__ import annotations

from typing import Any

from starlette.responses import PlainTextResponse, Response


class IdentityState:
    def __init__(self, sandbox: Any, xero: Any) -> None:
        self.sandbox = sandbox
        self.xero = xero

    def demo_env(self) -> dict[str, str]:
        return {}


def routes(sandbox: Any) -> list:
    return []


def admin_routes(sandbox: Any) -> list:
    return []


def fault_response(sandbox: Any, kind: str, scope: Any) -> Response:
    return PlainTextResponse("error", status_code=int(kind) if kind.isdigit() else 500)

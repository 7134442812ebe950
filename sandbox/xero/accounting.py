"""PLACEHOLDER — replaced by the Accounting API routes."""

from __future__ import annotations

from typing import Any

from starlette.responses import PlainTextResponse, Response


def routes(sandbox: Any) -> list:
    return []


def admin_routes(sandbox: Any) -> list:
    return []


def fault_response(sandbox: Any, kind: str, scope: Any) -> Response:
    return PlainTextResponse("error", status_code=int(kind) if kind.isdigit() else 500)

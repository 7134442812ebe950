"""PLACEHOLDER — replaced by the Capsule app."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse

from sandbox.admin import common_admin_routes
from sandbox.middleware import SandboxMiddleware


def build_app(sandbox: Any) -> Any:
    return SandboxMiddleware(
        Starlette(routes=common_admin_routes(sandbox)),
        sandbox,
        lambda path: "capsule",
        lambda kind, scope: JSONResponse({"message": "error"}, status_code=500),
    )

"""The Capsule stand-in's ASGI app: ``/api/v2`` plus the control routes, behind the sandbox middleware."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Scope

from sandbox.admin import common_admin_routes
from sandbox.capsule import admin, api
from sandbox.capsule.errors import METHOD_NOT_ALLOWED, NOT_FOUND, CapsuleJSON
from sandbox.middleware import SandboxMiddleware

if TYPE_CHECKING:
    from sandbox.app import Sandbox


def classify(path: str) -> str:
    return "capsule"


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return CapsuleJSON(NOT_FOUND, status_code=404)
    if status == 405:
        headers = getattr(exc, "headers", None) or {}
        return CapsuleJSON(METHOD_NOT_ALLOWED, status_code=405, headers=headers)
    detail = getattr(exc, "detail", None) or "Internal server error"
    return CapsuleJSON({"message": str(detail)}, status_code=status)


async def _server_error(request: Request, exc: Exception) -> Response:
    return CapsuleJSON({"message": "Internal server error"}, status_code=500)


def build_app(sandbox: Sandbox) -> ASGIApp:
    routes = [*common_admin_routes(sandbox), *admin.admin_routes(sandbox), *api.routes(sandbox.capsule)]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )

    def fault_response(kind: str, scope: Scope) -> Response:
        return api.fault_response(sandbox.capsule, kind, scope)

    return SandboxMiddleware(app, sandbox, classify, fault_response)

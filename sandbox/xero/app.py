"""The Xero stand-in's ASGI app: accounting, identity, connections and the control routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.types import ASGIApp, Scope

from sandbox.admin import common_admin_routes
from sandbox.middleware import SandboxMiddleware
from sandbox.xero import accounting, identity, webhooks

if TYPE_CHECKING:
    from sandbox.app import Sandbox

ACCOUNTING_PREFIX = "/api.xro/2.0"


def classify(path: str) -> str:
    """Which API (and so which call counters and rate limits) a path belongs to."""
    if path.startswith(ACCOUNTING_PREFIX):
        return "xero"
    # Xero's own SDK asks for /Connections (the spec's spelling); the docs use /connections.
    if path.lower().startswith("/connections"):
        return "xero-connections"
    return "xero-identity"


def build_app(sandbox: Sandbox) -> ASGIApp:
    routes = [
        *common_admin_routes(sandbox),
        *accounting.admin_routes(sandbox),
        *identity.admin_routes(sandbox),
        *webhooks.admin_routes(sandbox),
        *identity.routes(sandbox),
        *accounting.routes(sandbox),
    ]

    def fault_response(kind: str, scope: Scope) -> Response:
        if classify(scope["path"]) == "xero":
            return accounting.fault_response(sandbox, kind, scope)
        return identity.fault_response(sandbox, kind, scope)

    return SandboxMiddleware(
        Starlette(routes=routes), sandbox, classify, fault_response, tenant_header="xero-tenant-id"
    )

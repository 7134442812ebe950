"""The control API under ``/_sandbox``: calls, stats, faults, clock and seeding.

Served on both ports (each API also adds its own ``/_sandbox/xero/...`` or
``/_sandbox/capsule/...`` routes for editing records as a user would).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.faults import FaultRule

if TYPE_CHECKING:
    from sandbox.app import Sandbox


async def read_json(request: Request) -> Any:
    body = await request.body()
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError as exc:
        raise AdminError(f"request body is not JSON: {exc}") from exc


class AdminError(Exception):
    pass


def admin_error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def common_admin_routes(sandbox: Sandbox) -> list[BaseRoute]:
    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "seed": sandbox.seed, "clock_speed": sandbox.clock.speed})

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            sandbox.calls.clear()
            return Response(status_code=204)
        api = request.query_params.get("api")
        since = int(request.query_params.get("since", "0"))
        return JSONResponse(
            {
                "last_seq": sandbox.calls.last_seq(),
                "calls": [r.as_dict() for r in sandbox.calls.records(api, since)],
            }
        )

    async def stats(request: Request) -> Response:
        api = request.query_params.get("api")
        since = int(request.query_params.get("since", "0"))
        return JSONResponse(sandbox.calls.stats(api, since))

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            sandbox.faults.clear()
            return Response(status_code=204)
        if request.method == "POST":
            try:
                spec = await read_json(request)
                if "seed" in spec and len(spec) == 1:
                    sandbox.faults.reseed(int(spec["seed"]))
                    return JSONResponse({"reseeded": spec["seed"]})
                rule = sandbox.faults.add(FaultRule(**spec))
            except (AdminError, TypeError, ValueError) as exc:
                return admin_error(str(exc))
            return JSONResponse(rule.as_dict(), status_code=201)
        return JSONResponse({"rules": [r.as_dict() for r in sandbox.faults.rules()]})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                spec = await read_json(request)
                if "speed" in spec:
                    sandbox.clock.set_speed(float(spec["speed"]))
                if "advance_seconds" in spec:
                    sandbox.clock.advance(float(spec["advance_seconds"]))
            except (AdminError, ValueError) as exc:
                return admin_error(str(exc))
        return JSONResponse({"now": sandbox.clock.now().isoformat(), "speed": sandbox.clock.speed})

    async def seed(request: Request) -> Response:
        from sandbox.generator import generate

        try:
            spec = await read_json(request)
            dataset = generate(
                parties=int(spec.get("parties", 1000)), seed=int(spec.get("seed", sandbox.seed))
            )
        except (AdminError, ValueError) as exc:
            return admin_error(str(exc))
        sandbox.load(dataset)
        return JSONResponse(dataset.summary())

    return [
        Route("/_sandbox/health", health),
        Route("/_sandbox/calls", calls, methods=["GET", "DELETE"]),
        Route("/_sandbox/stats", stats),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/_sandbox/seed", seed, methods=["POST"]),
    ]

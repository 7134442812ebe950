"""``/_sandbox/capsule/...``: what a person would do in Capsule's web UI, plus sandbox knobs.

Edits made here have exactly the effects of the same edit through the API (validation, merge
semantics, ``updatedAt`` bump, tombstones, REST hooks), but need no token and are neither rate
limited nor logged as API calls. Validation failures answer in Capsule's own 422 shape.

- ``GET  /_sandbox/capsule/summary``
- ``POST /_sandbox/capsule/parties`` ``{"party": {...}, "user_id"?: N}``; ``GET|PUT|DELETE
  /_sandbox/capsule/parties/{id}``; ``POST /_sandbox/capsule/parties/{id}/restrict``
- ``POST /_sandbox/capsule/{opportunities|kases|tasks}`` and ``PUT|DELETE .../{id}`` (shallow edits)
- ``POST /_sandbox/capsule/opportunities/{id}/win`` ``{"closed_on"?: "YYYY-MM-DD"}``: won milestone,
  ``closedOn`` set, ``opportunity/closed`` fired
- ``POST /_sandbox/capsule/tokens`` ``{"client_id"?, "user_id"?, "scope"?: "read write"}`` -> an
  OAuth-app token (REST hooks need one; personal tokens cannot subscribe)
- ``GET|POST /_sandbox/capsule/rate-limit`` ``{"limit"?: N, "window_seconds"?: S}``
- ``GET /_sandbox/capsule/hooks``, ``GET /_sandbox/capsule/hooks/deliveries``,
  ``POST /_sandbox/capsule/hooks/settings`` ``{"batch_window_seconds": S}``
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.admin import AdminError, admin_error, read_json
from sandbox.capsule import render
from sandbox.capsule.errors import CapsuleError, CapsuleJSON
from sandbox.capsule.store import SINGULAR

if TYPE_CHECKING:
    from sandbox.app import Sandbox

ADMIN = "/_sandbox/capsule"
ALL_EMBEDS = frozenset({"tags", "fields", "missingImportantFields"})
KINDS = ("opportunities", "kases", "tasks")


def admin_routes(sandbox: Sandbox) -> list[BaseRoute]:
    state = sandbox.capsule

    def guarded(handler: Any) -> Any:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except CapsuleError as exc:
                return exc.response()
            except (AdminError, TypeError, ValueError, KeyError) as exc:
                return admin_error(str(exc))

        return run

    def full_party(record: dict[str, Any]) -> dict[str, Any]:
        return render.party(state, record, ALL_EMBEDS)

    async def summary(request: Request) -> Response:
        return JSONResponse(state.summary())

    async def create_party(request: Request) -> Response:
        spec = await read_json(request)
        user_id = spec.pop("user_id", None) if isinstance(spec, dict) else None
        record = state.create_party(spec, user_id)
        return CapsuleJSON({"party": full_party(record)}, status_code=201)

    async def party(request: Request) -> Response:
        party_id = request.path_params["id"]
        if request.method == "DELETE":
            state.delete_party(party_id)
            return Response(status_code=204)
        if request.method == "PUT":
            record = state.update_party(party_id, await read_json(request))
            return CapsuleJSON({"party": full_party(record)})
        record = state.parties.get(party_id)
        if record is None:
            return CapsuleJSON({"message": "Could not find resource"}, status_code=404)
        return CapsuleJSON({"party": full_party(record)})

    async def restrict(request: Request) -> Response:
        state.restrict_party(request.path_params["id"])
        return Response(status_code=204)

    def record_body(kind: str, spec: Any) -> dict[str, Any]:
        singular = SINGULAR[kind]
        if isinstance(spec, dict) and isinstance(spec.get(singular), dict):
            return spec[singular]
        if isinstance(spec, dict):
            return spec
        raise AdminError(f"body must be {{'{singular}': {{...}}}}")

    async def create_record(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in KINDS:
            raise AdminError(f"kind must be one of {KINDS}")
        record = state.upsert_record(kind, None, record_body(kind, await read_json(request)))
        return CapsuleJSON({SINGULAR[kind]: record}, status_code=201)

    async def record(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in KINDS:
            raise AdminError(f"kind must be one of {KINDS}")
        record_id = request.path_params["id"]
        if request.method == "DELETE":
            state.delete_record(kind, record_id)
            return Response(status_code=204)
        if request.method == "PUT":
            updated = state.upsert_record(kind, record_id, record_body(kind, await read_json(request)))
            return CapsuleJSON({SINGULAR[kind]: updated})
        found = state.collection(kind).get(record_id)
        if found is None:
            return CapsuleJSON({"message": "Could not find resource"}, status_code=404)
        return CapsuleJSON({SINGULAR[kind]: found})

    async def win(request: Request) -> Response:
        spec = await read_json(request)
        closed_on = spec.get("closed_on") if isinstance(spec, dict) else None
        record = state.win_opportunity(request.path_params["id"], closed_on)
        return CapsuleJSON({"opportunity": record})

    async def tokens(request: Request) -> Response:
        spec = await read_json(request)
        user_id = int(spec.get("user_id") or state.demo_user_id)
        if user_id not in state.users_by_id:
            raise AdminError(f"no user {user_id}")
        scopes = frozenset(str(spec.get("scope") or "read write").split())
        client_id = str(spec.get("client_id") or "sandbox-app")
        token = state.tokens.mint_app_token(user_id, client_id, scopes)
        return JSONResponse(token.public(), status_code=201)

    async def rate_limit(request: Request) -> Response:
        if request.method == "POST":
            spec = await read_json(request)
            state.limiter.configure(
                limit=int(spec["limit"]) if "limit" in spec else None,
                window=int(spec["window_seconds"]) if "window_seconds" in spec else None,
            )
        return JSONResponse(state.limiter.status())

    async def hooks(request: Request) -> Response:
        return JSONResponse(
            {"hooks": state.hooks.admin_view(), "batch_window_seconds": state.hooks.batch_window}
        )

    async def deliveries(request: Request) -> Response:
        return JSONResponse({"deliveries": state.hooks.deliveries})

    async def hook_settings(request: Request) -> Response:
        spec = await read_json(request)
        if "batch_window_seconds" in spec:
            window = float(spec["batch_window_seconds"])
            if window < 0:
                raise AdminError("batch_window_seconds must be >= 0")
            state.hooks.batch_window = window
        return JSONResponse({"batch_window_seconds": state.hooks.batch_window})

    return [
        Route(f"{ADMIN}/summary", guarded(summary)),
        Route(f"{ADMIN}/parties", guarded(create_party), methods=["POST"]),
        Route(f"{ADMIN}/parties/{{id:int}}", guarded(party), methods=["GET", "PUT", "DELETE"]),
        Route(f"{ADMIN}/parties/{{id:int}}/restrict", guarded(restrict), methods=["POST"]),
        Route(f"{ADMIN}/tokens", guarded(tokens), methods=["POST"]),
        Route(f"{ADMIN}/rate-limit", guarded(rate_limit), methods=["GET", "POST"]),
        Route(f"{ADMIN}/hooks", guarded(hooks)),
        Route(f"{ADMIN}/hooks/deliveries", guarded(deliveries)),
        Route(f"{ADMIN}/hooks/settings", guarded(hook_settings), methods=["POST"]),
        Route(f"{ADMIN}/opportunities/{{id:int}}/win", guarded(win), methods=["POST"]),
        Route(f"{ADMIN}/{{kind}}", guarded(create_record), methods=["POST"]),
        Route(f"{ADMIN}/{{kind}}/{{id:int}}", guarded(record), methods=["GET", "PUT", "DELETE"]),
    ]

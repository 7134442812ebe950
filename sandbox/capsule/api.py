"""The Capsule API v2 endpoints under ``/api/v2`` (docs/api-facts.md#capsule).

Every endpoint: Bearer token (401 otherwise) -> hourly per-user limit (429 ``{"error": ...}``,
no Retry-After) -> the handler; ``X-RateLimit-*`` go on every authenticated answer, errors
included.

Choices where the facts leave the behaviour open ([INF], all marked where they are made;
docs/api-facts.md#where-the-facts-are-uncertain):
- list order is id ascending (store.py);
- ``perPage`` outside 1..100 or ``page`` < 1 -> 422 (the stricter of "422 or clamp": a client
  that sends a bad value learns at once instead of silently getting a different page size);
- ``since`` is exclusive: records with ``updatedAt`` strictly after it (a client must re-read
  with an overlap, docs/api-facts.md#capsule-incremental-reads-and-deletions); an unparseable
  ``since`` -> 422;
- the ``next`` link repeats every query parameter as sent, with ``page`` replaced; a ``prev``
  link is added from page 2 on (Capsule's docs mention next and previous links,
  docs/api-facts.md#capsule-paging);
- multi-show returns the ids it found (404 only when none is found); more than 10 ids -> 422.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.capsule import render
from sandbox.capsule.auth import forbidden
from sandbox.capsule.errors import (
    RATE_LIMITED,
    CapsuleError,
    CapsuleJSON,
    bad_request,
    invalid,
    not_found,
)
from sandbox.capsule.parties import COUNTRIES
from sandbox.capsule.store import SINGULAR, Collection, Record, iso, page_slice, parse_instant

if TYPE_CHECKING:
    from sandbox.capsule.auth import Token
    from sandbox.capsule.state import CapsuleState

PREFIX = "/api/v2"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
MAX_MULTI_SHOW = 10
TASK_STATUSES = ("OPEN", "COMPLETED", "PENDING")

Handler = Callable[[Request, "Token"], Awaitable[Response]]


# ---- request helpers -----------------------------------------------------------------------
def _int_param(request: Request, name: str, default: int, resource: str) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid(f"{name} must be a whole number", resource, name) from None


def page_params(request: Request, resource: str) -> tuple[int, int]:
    page = _int_param(request, "page", 1, resource)
    per_page = _int_param(request, "perPage", DEFAULT_PER_PAGE, resource)
    if page < 1:
        raise invalid("page must be 1 or more", resource, "page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise invalid(f"perPage must be between 1 and {MAX_PER_PAGE}", resource, "perPage")
    return page, per_page


def since_param(request: Request, resource: str, required: bool) -> str | None:
    raw = request.query_params.get("since")
    if raw is None or not raw.strip():
        if required:
            # Omitting since on a deleted feed -> 422 "since is required" (shape assumed;
            # docs/api-facts.md#capsule-incremental-reads-and-deletions).
            raise invalid("since is required", resource, "since")
        return None
    try:
        # Stored timestamps are whole seconds, so flooring `since` keeps "strictly after" exact.
        return iso(parse_instant(raw).replace(microsecond=0))
    except ValueError:
        raise invalid(
            "since must be an ISO 8601 date-time, e.g. 2025-01-31T00:00:00Z", resource, "since"
        ) from None


def _page_url(request: Request, page: int) -> str:
    raw = request.scope.get("query_string", b"").decode("latin-1")
    parts, replaced = [], False
    for part in raw.split("&"):
        if not part:
            continue
        if part.split("=", 1)[0] == "page":
            parts.append(f"page={page}")
            replaced = True
        else:
            parts.append(part)
    if not replaced:
        parts.append(f"page={page}")
    url = request.url
    return f"{url.scheme}://{url.netloc}{url.path}?{'&'.join(parts)}"


def paged(
    request: Request,
    key: str,
    items: list[Record],
    page: int,
    has_more: bool,
    total: int,
    embeds: frozenset[str] = render.NO_EMBEDS,
    extra: Record | None = None,
) -> Response:
    body: Record = {key: items}
    if extra:
        body.update(extra)
    # undocumented, used by Capsule's own client (docs/api-facts.md#capsule-paging)
    if "meta" in embeds:
        body["meta"] = {"totalCount": total}
    links = []
    if page > 1:
        links.append(f'<{_page_url(request, page - 1)}>; rel="prev"')
    if has_more:
        links.append(f'<{_page_url(request, page + 1)}>; rel="next"')
    headers = {"X-Pagination-Has-More": "true" if has_more else "false"}
    if links:
        headers["Link"] = ", ".join(links)
    return CapsuleJSON(body, headers=headers)


async def read_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("Request body is not valid JSON") from None


def parse_ids(raw: str) -> list[int]:
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise not_found() from None
    if not ids:
        raise not_found()
    return ids


# ---- the endpoint wrapper ------------------------------------------------------------------
def endpoint(state: CapsuleState, handler: Handler, *, write: bool = False) -> Callable[[Request], Any]:
    async def handle(request: Request) -> Response:
        call = getattr(request.state, "call", None)
        try:
            token = state.tokens.authenticate(request)
        except CapsuleError as exc:
            return exc.response()
        allowed, limit_headers = state.limiter.hit(token.user_id)
        if not allowed:
            if call is not None:
                call.rate_limit_problem = "hourly"
            return CapsuleJSON(RATE_LIMITED, status_code=429, headers=limit_headers)
        try:
            needed = "write" if write else "read"
            if needed not in token.scopes:
                raise forbidden(f"this token lacks the '{needed}' scope")
            response = await handler(request, token)
        except CapsuleError as exc:
            response = exc.response()
        response.headers.update(limit_headers)
        return response

    return handle


# ---- routes --------------------------------------------------------------------------------
def routes(state: CapsuleState) -> list[BaseRoute]:
    parties = state.parties

    def render_parties(ids: list[int], embeds: frozenset[str]) -> list[Record]:
        by_id = parties.by_id
        return [render.party(state, by_id[i], embeds) for i in ids]

    def listing(
        request: Request,
        key: str,
        resource: str,
        collection: Collection,
        renderer: Callable[[CapsuleState, Record, frozenset[str]], Record],
        ids: list[int],
    ) -> Response:
        embeds = render.parse_embed(request.query_params.get("embed"))
        page, per_page = page_params(request, resource)
        chunk, more = page_slice(ids, page, per_page)
        by_id = collection.by_id
        items = [renderer(state, by_id[i], embeds) for i in chunk]
        return paged(request, key, items, page, more, len(ids), embeds)

    # -- parties ---------------------------------------------------------------------------
    async def list_parties(request: Request, token: Token) -> Response:
        since = since_param(request, "party", required=False)
        return listing(request, "parties", "party", parties, render.party, parties.ids(since))

    async def create_party(request: Request, token: Token) -> Response:
        body = await read_body(request)
        record = state.create_party(body, token.user_id)
        _note_write(request)
        embeds = render.parse_embed(request.query_params.get("embed"))
        url = request.url
        location = f"{url.scheme}://{url.netloc}{PREFIX}/parties/{record['id']}"
        return CapsuleJSON(
            {"party": render.party(state, record, embeds)}, status_code=201, headers={"Location": location}
        )

    async def show_parties(request: Request, token: Token) -> Response:
        ids = parse_ids(request.path_params["ids"])
        return show(request, ids, parties, "party", "parties", render.party)

    def show(
        request: Request,
        ids: list[int],
        collection: Collection,
        singular: str,
        plural: str,
        renderer: Callable[[CapsuleState, Record, frozenset[str]], Record],
    ) -> Response:
        embeds = render.parse_embed(request.query_params.get("embed"))
        if len(ids) > MAX_MULTI_SHOW:
            raise invalid(f"at most {MAX_MULTI_SHOW} ids may be requested at once", singular, "id")
        found = [collection.get(i) for i in ids]
        records = [r for r in found if r is not None]
        if not records:
            raise not_found()
        if len(ids) == 1:
            return CapsuleJSON({singular: renderer(state, records[0], embeds)})
        return CapsuleJSON({plural: [renderer(state, r, embeds) for r in records]})

    async def update_party(request: Request, token: Token) -> Response:
        party_id = request.path_params["id"]
        body = await read_body(request)
        record = state.update_party(party_id, body)
        _note_write(request)
        embeds = render.parse_embed(request.query_params.get("embed"))
        return CapsuleJSON({"party": render.party(state, record, embeds)})

    async def delete_party(request: Request, token: Token) -> Response:
        state.delete_party(request.path_params["id"])
        _note_write(request)
        return Response(status_code=204)

    async def update_opportunity(request: Request, token: Token) -> Response:
        record = state.update_opportunity(request.path_params["id"], await read_body(request))
        _note_write(request)
        embeds = render.parse_embed(request.query_params.get("embed"))
        return CapsuleJSON({"opportunity": render.opportunity(state, record, embeds)})

    async def people(request: Request, token: Token) -> Response:
        org = parties.get(request.path_params["id"])
        if org is None or org.get("type") != "organisation":
            raise not_found()
        ids = state.people_of(org["id"])
        return listing(request, "parties", "party", parties, render.party, ids)

    def related(kind: str) -> Handler:
        collection = state.collection(kind)
        renderer = render.opportunity if kind == "opportunities" else render.kase

        async def handler(request: Request, token: Token) -> Response:
            party_id = request.path_params["id"]
            if parties.get(party_id) is None:
                raise not_found()
            ids = sorted(collection.referencing("party", _party_ref, party_id))
            return listing(request, kind, SINGULAR[kind], collection, renderer, ids)

        return handler

    async def search(request: Request, token: Token) -> Response:
        query = (request.query_params.get("q") or "").strip().lower()
        embeds = render.parse_embed(request.query_params.get("embed"))
        page, per_page = page_params(request, "party")
        wanted = page * per_page + 1
        matches: list[int] = []
        by_id = parties.by_id
        for party_id in parties.order:  # [INF] names, e-mails, phones and websites, substring match
            if not query or query in _search_text(by_id[party_id]):
                matches.append(party_id)
                if len(matches) >= wanted:
                    break
        chunk = matches[(page - 1) * per_page : page * per_page]
        more = len(matches) > page * per_page
        return paged(request, "parties", render_parties(chunk, embeds), page, more, len(matches), embeds)

    def deleted_feed(collection: Collection, key: str, restricted_key: str, resource: str) -> Handler:
        async def handler(request: Request, token: Token) -> Response:
            since = since_param(request, resource, required=True)
            assert since is not None
            page, per_page = page_params(request, resource)
            rows = collection.deleted_since(since)
            start = (page - 1) * per_page
            chunk = rows[start : start + per_page]
            more = len(rows) > start + per_page
            # restricted* appears only when non-empty
            # (docs/api-facts.md#capsule-incremental-reads-and-deletions)
            extra = {restricted_key: list(collection.restricted)} if collection.restricted else None
            return paged(request, key, [dict(r) for r in chunk], page, more, len(rows), extra=extra)

        return handler

    def definitions(kind: str) -> Handler:
        async def handler(request: Request, token: Token) -> Response:
            page, per_page = page_params(request, "definition")
            rows = state.definitions[kind]
            start = (page - 1) * per_page
            more = len(rows) > start + per_page
            return paged(request, "definitions", rows[start : start + per_page], page, more, len(rows))

        return handler

    def tags(kind: str) -> Handler:
        async def handler(request: Request, token: Token) -> Response:
            page, per_page = page_params(request, "tag")
            rows = state.tags[kind]
            start = (page - 1) * per_page
            more = len(rows) > start + per_page
            return paged(request, "tags", rows[start : start + per_page], page, more, len(rows))

        return handler

    # -- opportunities, kases, tasks -------------------------------------------------------
    def list_of(kind: str, renderer: Callable[[CapsuleState, Record, frozenset[str]], Record]) -> Handler:
        collection = state.collection(kind)

        async def handler(request: Request, token: Token) -> Response:
            since = since_param(request, SINGULAR[kind], required=False)
            return listing(request, kind, SINGULAR[kind], collection, renderer, collection.ids(since))

        return handler

    def show_of(kind: str, renderer: Callable[[CapsuleState, Record, frozenset[str]], Record]) -> Handler:
        collection = state.collection(kind)

        async def handler(request: Request, token: Token) -> Response:
            ids = parse_ids(request.path_params["ids"])
            return show(request, ids, collection, SINGULAR[kind], kind, renderer)

        return handler

    async def list_tasks(request: Request, token: Token) -> Response:
        # No `since` on tasks (ignored if sent), OPEN only unless `status` says otherwise
        # (docs/api-facts.md#capsule-incremental-reads-and-deletions).
        raw = request.query_params.get("status") or "open"
        wanted = {s.strip().upper() for s in raw.split(",") if s.strip()}
        unknown = wanted - set(TASK_STATUSES)
        if unknown:
            raise invalid(
                f"status must be one or more of {', '.join(s.lower() for s in TASK_STATUSES)}",
                "task",
                "status",
            )
        key = ",".join(sorted(wanted))
        ids = state.tasks.filtered(f"status:{key}", lambda t: t.get("status") in wanted)
        return listing(request, "tasks", "task", state.tasks, render.task, ids)

    # -- account ---------------------------------------------------------------------------
    async def users(request: Request, token: Token) -> Response:
        return CapsuleJSON({"users": state.users})  # not paged (docs/api-facts.md#capsule-parties)

    async def current_user(request: Request, token: Token) -> Response:
        # wrapper presumed [?] (docs/api-facts.md#capsule-authentication)
        return CapsuleJSON({"user": state.user_of(token)})

    async def site(request: Request, token: Token) -> Response:
        return CapsuleJSON({"site": state.site})

    async def countries(request: Request, token: Token) -> Response:
        return CapsuleJSON({"countries": [{"name": c} for c in COUNTRIES]})  # shape assumed [?]

    async def teams(request: Request, token: Token) -> Response:
        return CapsuleJSON({"teams": sorted(state.teams.values(), key=lambda t: t["id"])})

    async def milestones(request: Request, token: Token) -> Response:
        page, per_page = page_params(request, "milestone")
        rows = list(state.milestones.values())
        start = (page - 1) * per_page
        more = len(rows) > start + per_page
        return paged(request, "milestones", rows[start : start + per_page], page, more, len(rows))

    # -- REST hooks ------------------------------------------------------------------------
    async def list_hooks(request: Request, token: Token) -> Response:
        return CapsuleJSON({"restHooks": state.hooks.list(token)})

    async def subscribe(request: Request, token: Token) -> Response:
        hook = state.hooks.subscribe(token, await read_body(request))
        url = request.url
        return CapsuleJSON(
            {"restHook": hook},
            status_code=201,
            headers={"Location": f"{url.scheme}://{url.netloc}{PREFIX}/resthooks/{hook['id']}"},
        )

    async def show_hook(request: Request, token: Token) -> Response:
        return CapsuleJSON({"restHook": state.hooks.show(token, request.path_params["id"])})

    async def delete_hook(request: Request, token: Token) -> Response:
        state.hooks.delete(token, request.path_params["id"])
        return Response(status_code=204)

    def r(path: str, handler: Handler, method: str = "GET") -> Route:
        return Route(PREFIX + path, endpoint(state, handler, write=method != "GET"), methods=[method])

    table: list[BaseRoute] = [
        r("/parties", list_parties),
        r("/parties", create_party, "POST"),
        r("/parties/search", search),
        r("/parties/deleted", deleted_feed(parties, "parties", "restrictedParties", "party")),
        r("/parties/fields/definitions", definitions("parties")),
        r("/parties/tags", tags("parties")),
        r("/parties/{id:int}/people", people),
        r("/parties/{id:int}/opportunities", related("opportunities")),
        r("/parties/{id:int}/kases", related("kases")),
        r("/parties/{id:int}", update_party, "PUT"),
        r("/parties/{id:int}", delete_party, "DELETE"),
        r("/parties/{ids}", show_parties),
    ]
    for kind, renderer, restricted in (
        ("opportunities", render.opportunity, "restrictedOpportunities"),
        ("kases", render.kase, "restrictedKases"),
    ):
        collection = state.collection(kind)
        table += [
            r(f"/{kind}", list_of(kind, renderer)),
            r(f"/{kind}/deleted", deleted_feed(collection, kind, restricted, SINGULAR[kind])),
            r(f"/{kind}/fields/definitions", definitions(kind)),
            r(f"/{kind}/tags", tags(kind)),
            r(f"/{kind}/{{ids}}", show_of(kind, renderer)),
        ]
    table.append(r("/opportunities/{id:int}", update_opportunity, "PUT"))
    table += [
        r("/tasks", list_tasks),
        r("/tasks/{ids}", show_of("tasks", render.task)),
        r("/users", users),
        r("/users/current", current_user),
        r("/site", site),
        r("/countries", countries),
        r("/teams", teams),
        r("/milestones", milestones),
        r("/resthooks", list_hooks),
        r("/resthooks", subscribe, "POST"),
        r("/resthooks/{id:int}", show_hook),
        r("/resthooks/{id:int}", delete_hook, "DELETE"),
    ]
    return table


def _party_ref(record: Record) -> int | None:
    ref = record.get("party")
    return ref.get("id") if isinstance(ref, dict) else None


def _note_write(request: Request) -> None:
    call = getattr(request.state, "call", None)
    if call is not None:
        call.batch_size = 1


def _search_text(party: Record) -> str:
    parts = [party.get("name"), party.get("firstName"), party.get("lastName")]
    parts += [e.get("address") for e in party.get("emailAddresses") or ()]
    parts += [p.get("number") for p in party.get("phoneNumbers") or ()]
    parts += [w.get("address") for w in party.get("websites") or ()]
    return " ".join(p for p in parts if p).lower()


def fault_response(state: CapsuleState, kind: str, scope: Any) -> Response:
    """Injected faults answer exactly like the real thing
    (docs/api-facts.md#capsule-rate-limits, #capsule-errors)."""
    headers: dict[str, str] = {}
    token = None
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, raw = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                token = state.tokens.by_token.get(raw.strip())
    if token is not None or kind == "429":
        user_id = token.user_id if token is not None else None
        headers = state.limiter.headers(user_id, remaining=0 if kind == "429" else None)
    if kind == "429":
        return CapsuleJSON(RATE_LIMITED, status_code=429, headers=headers)  # no Retry-After
    message = "Service unavailable" if kind == "503" else "Internal server error"
    return CapsuleJSON({"message": message}, status_code=int(kind), headers=headers)

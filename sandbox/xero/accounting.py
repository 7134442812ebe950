"""Xero's Accounting API under ``/api.xro/2.0``: Contacts, History, ContactGroups, Users.

Every call goes: authenticate (identity.py) → rate limits (ratelimit.py) → Idempotency-Key
(idempotency.py, writes only) → the handler; the answer carries the rate-limit headers. The rules
live in organisation.py, the wire format in wire.py. Facts: docs/api-facts.md#xero.

Deliberate differences from Xero (stricter, so a client that passes here is safe there):
- request bodies are JSON only (Xero also takes XML): an XML body is a clear 400;
- bodies over 3.5 MB are refused with 413 (Xero's limits page says 10 MB, but its own advice and
  this project's design keep writes under 3.5 MB, docs/api-facts.md#xero-writing-contacts; a stand-in
  that allowed more would let an oversized batch pass here and fail there);
- a ``where`` the stand-in cannot evaluate exactly (anything but AND-joined equality on the
  optimised fields) is a 400 QueryParseException rather than a slow unoptimised scan;
- a malformed ``If-Modified-Since`` or query parameter is a 400 rather than silently ignored.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.admin import AdminError, admin_error, read_json
from sandbox.xero import wire
from sandbox.xero.idempotency import KEY_MAX_LENGTH, METHODS, StoredResponse, fingerprint
from sandbox.xero.organisation import (
    ADDRESS_LIMITS,
    DEFAULT_ORDER,
    OPTIMISED_ORDER_FIELDS,
    ORDER_FIELDS,
    PHONE_LIMITS,
    STRING_FIELDS,
    UI_FIELDS_BUMP,
    UI_FIELDS_NO_BUMP,
    WHERE_FIELDS,
    ZERO_GUID,
    ContactGroup,
    ContactQuery,
    Organisation,
    PostDataInvalid,
    WriteOutcome,
    fold,
    is_guid,
    parse_contact,
)

if TYPE_CHECKING:
    from sandbox.app import Sandbox
    from sandbox.xero.identity import AuthContext

log = logging.getLogger(__name__)

PREFIX = "/api.xro/2.0"
READ_SCOPES = frozenset({"accounting.contacts", "accounting.contacts.read"})
WRITE_SCOPES = frozenset({"accounting.contacts"})
SETTINGS_SCOPES = frozenset({"accounting.settings", "accounting.settings.read"})
MAX_BODY_BYTES = 3_500_000
PAGE_SIZE_DEFAULT, PAGE_SIZE_MIN, PAGE_SIZE_MAX = 100, 1, 1000
# Xero answers 404 once IDs=... is longer than ~52 GUIDs (the URL limit; xero-node#404;
# docs/api-facts.md#xero-reading-contacts).
MAX_IDS = 52
SERVICE_OFFLINE_TEXT = "The Xero API is currently offline for maintenance"
ERROR_500_DETAIL = (
    "An error occurred in Xero. Check the API Status page http://status.developer.xero.com "
    "for current service status."
)


# ---- the per-call context -----------------------------------------------------------------------


class BadRequest(Exception):
    def __init__(self, error_type: str, message: str, number: int | None = None) -> None:
        super().__init__(message)
        self.error_type, self.message, self.number = error_type, message, number


def query_parse_error(message: str) -> BadRequest:
    return BadRequest("QueryParseException", message, 16)


@dataclass
class Call:
    request: Request
    sandbox: Sandbox
    auth: AuthContext
    org: Organisation
    body: bytes
    record: Any

    @property
    def params(self) -> dict[str, str]:
        # ASP.NET binds query parameters case-insensitively.
        return {k.lower(): v for k, v in self.request.query_params.items()}

    def provider(self) -> str:
        """``ProviderName`` is the calling app's name (the app registry lives in identity.py)."""
        apps = getattr(self.sandbox.xero.identity, "apps", None)
        app = apps.get(self.auth.client_id) if isinstance(apps, dict) else None
        name = getattr(app, "name", None)
        return name if isinstance(name, str) and name else wire.DEFAULT_PROVIDER_NAME

    def envelope(self, key: str, items: Any, **extra: Any) -> dict[str, Any]:
        return wire.envelope(key, items, now=self.sandbox.clock.now(), provider=self.provider(), **extra)

    def ok(self, key: str, items: Any, **extra: Any) -> Response:
        return wire.render(self.request, self.envelope(key, items, **extra))

    def error(self, status: int, error_type: str, message: str, **kw: Any) -> Response:
        return wire.api_error(self.request, status, error_type, message, **kw)

    def json_body(self, exact: bool = False) -> Any:
        """The JSON body; ``exact`` parses numbers with a fraction as ``Decimal`` (money)."""
        content_type = self.request.headers.get("content-type", "").lower()
        text = self.body.lstrip()
        if "xml" in content_type or text.startswith(b"<"):
            # Xero accepts XML bodies too; the stand-in is stricter: JSON only, said plainly.
            raise BadRequest(
                "PostDataInvalidException",
                "The sandbox accepts JSON request bodies only: send the body as JSON with "
                "Content-Type: application/json.",
                11,
            )
        if not text:
            return None
        try:
            return json.loads(self.body, parse_float=Decimal) if exact else json.loads(self.body)
        except ValueError as exc:
            raise BadRequest(
                "PostDataInvalidException", f"The request body is not valid JSON: {exc}", 11
            ) from exc

    def note_batch(self, size: int) -> None:
        if self.record is not None:
            self.record.batch_size = size


Handler = Callable[[Call], Response]


def _rate_limited(sandbox: Sandbox, problem: str, headers: dict[str, str], wait: float | None) -> Response:
    out = dict(headers)
    out["X-Rate-Limit-Problem"] = problem
    if wait is not None:
        out["Retry-After"] = str(sandbox.clock.retry_after(wait))
    # Xero's 429 body is undocumented (docs/api-facts.md#xero-rate-limits, #where-the-facts-are-uncertain);
    # the gateway's problem-details shape is used.
    return wire.problem(429, "Too Many Requests", f"Rate limit exceeded: {problem}", headers=out)


def endpoint(
    sandbox: Sandbox, scopes: frozenset[str], handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler in Xero's pipeline: auth → rate limits → idempotency → handler."""

    async def run(request: Request) -> Response:
        identity = sandbox.xero.identity
        auth = identity.authenticate(request, scopes)
        if isinstance(auth, Response):
            return auth
        record = getattr(request.state, "call", None)
        if record is not None:
            record.tenant = auth.tenant_id
        org = sandbox.xero.orgs.get(auth.tenant_id)
        if org is None:
            return wire.problem(403, "Forbidden", "AuthenticationUnsuccessful")
        rt = sandbox.xero
        in_flight = record.concurrent if record is not None and record.concurrent else 1
        decision = rt.limiter.check(auth.client_id, auth.tenant_id, in_flight)
        if decision.problem is not None:
            if record is not None:
                record.rate_limit_problem = decision.problem
            return _rate_limited(
                sandbox, decision.problem, decision.headers, decision.retry_after_sandbox_seconds
            )
        limit_headers = decision.headers

        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _with_headers(_too_large(), limit_headers)
        body = await request.body() if request.method in ("POST", "PUT", "PATCH") else b""
        if len(body) > MAX_BODY_BYTES:
            return _with_headers(_too_large(), limit_headers)

        key = request.headers.get("idempotency-key") if request.method in METHODS else None
        print_ = ""
        if key is not None:
            if record is not None:
                record.idempotency_key = key[:KEY_MAX_LENGTH]
            if len(key) > KEY_MAX_LENGTH:
                detail = f"The Idempotency-Key must be at most {KEY_MAX_LENGTH} characters long."
                return _with_headers(wire.problem(400, "Bad Request", detail), limit_headers)
            url = request.url.path + ("?" + request.url.query if request.url.query else "")
            print_ = fingerprint(request.method, url, auth.tenant_id, body)
            found = rt.idempotency.lookup(auth.client_id, key, print_)
            if found.outcome == "conflict":
                detail = f"The Idempotency-Key {key} is used with a different request."
                return _with_headers(wire.problem(400, "Bad Request", detail), limit_headers)
            if found.outcome == "replay" and found.stored is not None:
                stored = found.stored
                return Response(
                    stored.body, status_code=stored.status, headers={**stored.headers, **limit_headers}
                )

        call = Call(request, sandbox, auth, org, body, record)
        try:
            response = handler(call)
        except BadRequest as exc:
            response = call.error(400, exc.error_type, exc.message, number=exc.number)
        except PostDataInvalid as exc:
            response = call.error(400, "PostDataInvalidException", str(exc), number=11)
        except Exception:
            log.exception("xero stand-in handler failed: %s %s", request.method, request.url.path)
            response = _error_500()
        if key is not None:
            # Every outcome is remembered, errors too (docs/api-facts.md#xero-idempotency-keys): a retry
            # with the same key gets the same answer; a client wanting another go must use a new key.
            headers = {k: v for k, v in response.headers.items() if k.lower() == "content-type"}
            rt.idempotency.store(
                auth.client_id, key, StoredResponse(response.status_code, response.body, headers)
            )
        return _with_headers(response, limit_headers)

    return run


def _with_headers(response: Response, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _too_large() -> Response:
    return wire.problem(
        413, "Request Entity Too Large", f"The request body is larger than {MAX_BODY_BYTES} bytes (3.5 MB)."
    )


def _error_500() -> Response:
    import uuid

    body = {
        "Title": "An error occurred",
        "Detail": ERROR_500_DETAIL,
        "Status": 500,
        "Instance": str(uuid.uuid4()),
    }
    return JSONResponse(body, status_code=500)


# ---- query-string parsing -----------------------------------------------------------------------

_CLAUSE = re.compile(
    r"\s*(?P<field>[A-Za-z][A-Za-z0-9]*)\s*(?P<op>==|=)\s*"
    r"(?:\"(?P<str>(?:[^\"\\]|\\.)*)\"|(?P<bare>true|false))\s*",
    re.IGNORECASE,
)
_JOIN = re.compile(r"(?:AND|&&)(?=[\s\w])", re.IGNORECASE)


def parse_where(text: str, fields: dict[str, str]) -> tuple[tuple[str, Any], ...]:
    """AND-joined equality clauses (``=`` or ``==``) on known fields; values folded for strings.

    ``fields`` maps a field name to its kind (``str`` or ``bool``). Anything else → 400.
    """
    canonical = {name.lower(): name for name in fields}
    clauses: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    supported = ", ".join(fields)
    while True:
        match = _CLAUSE.match(text, pos)
        if match is None:
            raise query_parse_error(
                f"The where clause could not be parsed at position {pos}: {text[pos : pos + 40]!r}. "
                f"The sandbox supports equality (= or ==) on {supported}, joined by AND."
            )
        name = canonical.get(match["field"].lower())
        if name is None:
            raise query_parse_error(
                f"The where clause filters on {match['field']}, which the sandbox does not support; "
                f"supported fields: {supported}."
            )
        kind = fields[name]
        if kind == "bool":
            if match["bare"] is None:
                raise query_parse_error(f"{name} must be compared with true or false.")
            clauses.append((name, match["bare"].lower() == "true"))
        else:
            if match["str"] is None:
                raise query_parse_error(f"{name} must be compared with a quoted string.")
            clauses.append((name, fold(re.sub(r"\\(.)", r"\1", match["str"]))))
        pos = match.end()
        if pos >= len(text):
            return tuple(clauses)
        join = _JOIN.match(text, pos)
        if join is None:
            raise query_parse_error(
                f"Expected AND at position {pos} of the where clause: {text[pos : pos + 40]!r}."
            )
        pos = join.end()


def parse_order(text: str | None, fields: frozenset[str]) -> tuple[tuple[str, bool], ...]:
    if not text or not text.strip():
        return ()
    canonical = {name.lower(): name for name in fields}
    out = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise query_parse_error(f"The order clause {text!r} could not be parsed.")
        name = canonical.get(words[0].lower())
        if name is None:
            raise query_parse_error(f"Cannot order by {words[0]}; supported: {', '.join(sorted(fields))}.")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise query_parse_error(f"Order direction must be ASC or DESC, not {words[1]!r}.")
        out.append((name, direction == "DESC"))
    return tuple(out)


def parse_bool(params: dict[str, str], name: str, default: bool = False) -> bool:
    raw = params.get(name.lower())
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise query_parse_error(f"{name} must be true or false, not {raw!r}.")


def parse_int(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name.lower())
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise query_parse_error(f"{name} must be a whole number, not {raw!r}.") from None


def parse_if_modified_since(value: str | None) -> int | None:
    """Epoch seconds (1 s resolution) of an ``If-Modified-Since`` header, or None.

    Accepts ISO-8601 (Xero's documented ``2009-11-12T00:00:00``, taken as UTC when it has no zone;
    fractions and offsets allowed) and the HTTP-date form. Anything else is a 400 (stricter than
    ignoring it: a sync whose cursor silently stopped working would otherwise re-read everything).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            parsed = None
    if parsed is None:
        raise BadRequest("ValidationException", f"If-Modified-Since {text!r} is not a date-time.", 10)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() // 1)


def _high_volume() -> BadRequest:
    return BadRequest(
        "HighVolumeException",
        "This request does not filter Contacts efficiently for an organisation with this many "
        "contacts. Page the request (page=...) and filter or order only on optimised fields; see "
        "https://developer.xero.com/documentation/api/efficient-data-retrieval",
    )


# ---- contacts -----------------------------------------------------------------------------------

CONTACT_WHERE_FIELDS = {name: "str" for name in WHERE_FIELDS}


def get_contacts(call: Call) -> Response:
    params = call.params
    org = call.org
    summary_only = parse_bool(params, "summaryOnly")
    page = parse_int(params, "page")
    if summary_only and page is None:
        page = 1  # summaryOnly forces paging (docs/api-facts.md#xero-reading-contacts)
    if page is not None and page < 1:
        page = 1
    page_size = parse_int(params, "pageSize")
    page_size = PAGE_SIZE_DEFAULT if page_size is None else min(PAGE_SIZE_MAX, max(PAGE_SIZE_MIN, page_size))
    where = parse_where(params["where"], CONTACT_WHERE_FIELDS) if params.get("where", "").strip() else ()
    order = parse_order(params.get("order"), ORDER_FIELDS)
    if order and order[-1][0] != "ContactID":
        order = (*order, ("ContactID", False))
    if order == DEFAULT_ORDER:
        order = ()
    if (
        any(name not in OPTIMISED_ORDER_FIELDS for name, _ in order)
        and len(org.contacts) > org.high_volume_threshold
    ):
        raise _high_volume()
    ids: frozenset[str] | None = None
    raw_ids = params.get("ids")
    if raw_ids is not None and raw_ids.strip():
        parts = [p.strip().strip('"').lower() for p in raw_ids.split(",") if p.strip()]
        if len(parts) > MAX_IDS:
            return wire.not_found()
        bad = [p for p in parts if not is_guid(p)]
        if bad:
            raise query_parse_error(f"IDs must be ContactIDs (GUIDs); {bad[0]!r} is not.")
        ids = frozenset(parts)
    search = params.get("searchterm")
    # If-Modified-Since boundary: inclusive at 1 s resolution (UpdatedDateUTC truncated to the
    # second >= the header's second). Xero leaves the boundary undocumented [?]
    # (docs/api-facts.md#xero-reading-contacts); the inclusive reading can only repeat a record, never
    # lose one updated in the cursor's second.
    since = parse_if_modified_since(call.request.headers.get("if-modified-since"))
    query = ContactQuery(
        include_archived=parse_bool(params, "includeArchived"),
        where=where,
        ids=ids,
        search=fold(search.strip()) if search and search.strip() else None,
        since=since,
        order=order,
    )
    matched = org.query(query)
    if page is None:
        if len(matched) > org.high_volume_threshold:
            raise _high_volume()
        items = [org.view(org.contacts[cid], "unpaged") for cid in matched]
        return call.ok("Contacts", items)
    start = (page - 1) * page_size
    mode = "summary" if summary_only else "full"
    items = [org.view(org.contacts[cid], mode) for cid in matched[start : start + page_size]]
    pagination = {
        "page": page,
        "pageSize": page_size,
        "pageCount": -(-len(matched) // page_size),
        "itemCount": len(matched),
    }
    return call.ok("Contacts", items, pagination=pagination)


def get_contact(call: Call) -> Response:
    record = call.org.find(call.request.path_params["key"])
    if record is None:
        return wire.not_found()
    return call.ok("Contacts", [call.org.view(record, "full")])


def _elements(data: Any, key: str, what: str) -> list[Any]:
    """``{"<key>": [...]}`` or a bare object; no data at all → NoDataProcessedException."""
    if isinstance(data, dict) and key in data:
        items = data[key]
        if items is None:
            items = []
        if not isinstance(items, list):
            raise PostDataInvalid(f"{key} must be an array")
    elif isinstance(data, dict):
        items = [data] if data else []
    elif data is None:
        items = []
    else:
        raise PostDataInvalid(f'The request body must be a JSON object ({{"{key}": [...]}} or one {what})')
    if not items:
        raise BadRequest(
            "NoDataProcessedException",
            f"No data has been processed for this endpoint. This endpoint is expecting {what} data "
            "to be specified in the request body.",
            17,
        )
    return items


def _summarize(call: Call) -> bool:
    return parse_bool(call.params, "summarizeErrors", default=True)


def _echo(outcome: WriteOutcome, contact_id: str | None) -> dict[str, Any]:
    """A failed element as Xero echoes it: what was sent, plus its validation errors."""
    echo = dict(outcome.echo)
    out: dict[str, Any] = {"ContactID": contact_id or echo.pop("ContactID", None) or ZERO_GUID}
    echo.pop("ContactID", None)
    # Over-long values are echoed cut to the schema's maxLength: the official schema (and the
    # official SDK's model setters, which raise) allow nothing longer, and the element's
    # ValidationErrors already say what was wrong.
    for name, value in echo.items():
        if name == "Addresses":
            out[name] = [{**_clip(item, ADDRESS_LIMITS), "ValidationErrors": []} for item in value]
        elif name == "Phones":
            out[name] = [{**_clip(item, PHONE_LIMITS), "ValidationErrors": []} for item in value]
        else:
            out[name] = _clip({name: value}, STRING_FIELDS)[name]
    out["HasValidationErrors"] = True
    out["ValidationErrors"] = [{"Message": message} for message in outcome.errors]
    return out


def _clip(values: dict[str, Any], limits: dict[str, int | None] | dict[str, int]) -> dict[str, Any]:
    out = dict(values)
    for name, limit in limits.items():
        value = out.get(name)
        if limit is not None and isinstance(value, str) and len(value) > limit:
            out[name] = value[:limit]
    return out


def write_contacts(call: Call, method: str, target_id: str | None = None) -> Response:
    data = call.json_body()
    raw = _elements(data, "Contacts", "Contact")
    elements = [parse_contact(item) for item in raw]  # wrong types: whole request 400 (no writes)
    call.note_batch(len(elements))
    if target_id is not None and len(elements) != 1:
        raise PostDataInvalid("POST /Contacts/{ContactID} updates exactly one contact")
    summarize = _summarize(call)
    org = call.org
    outcomes = [org.write_contact(element, method=method, target_id=target_id) for element in elements]
    if not summarize:
        # summarizeErrors=false: always 200, every element with its own status
        # (docs/api-facts.md#xero-writing-contacts).
        items = []
        for outcome in outcomes:
            if outcome.ok and outcome.contact_id:
                item = org.view(org.contacts[outcome.contact_id], "full")
                item["StatusAttributeString"] = "OK"
            else:
                item = _echo(outcome, target_id)
                item["StatusAttributeString"] = "ERROR"
            items.append(item)
        return call.ok("Contacts", items)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if failed:
        # Not transactional: the valid elements above are already saved, and their ids are not
        # returned (docs/api-facts.md#xero-writing-contacts).
        return call.error(
            400,
            "ValidationException",
            "A validation exception occurred",
            number=10,
            elements=[_echo(outcome, target_id) for outcome in failed],
        )
    return call.ok(
        "Contacts", [org.view(org.contacts[o.contact_id], "full") for o in outcomes if o.contact_id]
    )


def put_contacts(call: Call) -> Response:
    return write_contacts(call, "PUT")


def post_contacts(call: Call) -> Response:
    return write_contacts(call, "POST")


def post_contact(call: Call) -> Response:
    key = call.request.path_params["key"]
    if not is_guid(key) or key.lower() not in call.org.contacts:
        return wire.not_found()
    return write_contacts(call, "POST", key.lower())


# ---- history ------------------------------------------------------------------------------------


def _contact_or_none(call: Call) -> str | None:
    key = call.request.path_params["key"]
    if not is_guid(key) or key.lower() not in call.org.contacts:
        return None
    return key.lower()


def get_history(call: Call) -> Response:
    cid = _contact_or_none(call)
    if cid is None:
        return wire.not_found()
    return call.ok("HistoryRecords", call.org.history_view(cid))


def add_history(call: Call) -> Response:
    cid = _contact_or_none(call)
    if cid is None:
        return wire.not_found()
    records = _elements(call.json_body(), "HistoryRecords", "HistoryRecord")
    call.note_batch(len(records))
    details = []
    failed = []
    for record in records:
        if not isinstance(record, dict):
            raise PostDataInvalid("Each HistoryRecord must be a JSON object")
        text = record.get("Details")
        errors = call.org.history_errors(text)
        details.append(text)
        if errors:
            failed.append(
                {
                    "Details": text if isinstance(text, str) else "",
                    "HasValidationErrors": True,
                    "ValidationErrors": [{"Message": m} for m in errors],
                }
            )
    if failed:
        # All or nothing for notes (simpler to reason about than the contacts' partial saves).
        return call.error(
            400, "ValidationException", "A validation exception occurred", number=10, elements=failed
        )
    return call.ok("HistoryRecords", call.org.add_notes(cid, details))


# ---- contact groups -----------------------------------------------------------------------------

GROUP_WHERE_FIELDS = {"Name": "str", "Status": "str", "ContactGroupID": "str"}
GROUP_ORDER_FIELDS = frozenset({"Name", "Status", "ContactGroupID"})


def _group(call: Call) -> ContactGroup | None:
    key = call.request.path_params["group"]
    return call.org.groups.get(key.lower()) if is_guid(key) else None


def get_groups(call: Call) -> Response:
    params = call.params
    where = parse_where(params["where"], GROUP_WHERE_FIELDS) if params.get("where", "").strip() else ()
    order = parse_order(params.get("order"), GROUP_ORDER_FIELDS)
    groups = call.org.active_groups()
    for name, value in where:
        attr = {"Name": "name", "Status": "status", "ContactGroupID": "group_id"}[name]
        groups = [g for g in groups if fold(getattr(g, attr)) == value]
    for name, descending in reversed(order):
        attr = {"Name": "name", "Status": "status", "ContactGroupID": "group_id"}[name]
        groups.sort(key=lambda g, a=attr: fold(getattr(g, a)), reverse=descending)
    return call.ok("ContactGroups", [call.org.group_view(g) for g in groups])


def get_group(call: Call) -> Response:
    group = _group(call)
    if group is None:
        return wire.not_found()
    return call.ok("ContactGroups", [call.org.group_view(group, with_contacts=True)])


def _group_echo(item: dict[str, Any], errors: list[str], group_id: str | None = None) -> dict[str, Any]:
    echo: dict[str, Any] = {"ContactGroupID": group_id or ZERO_GUID}
    if isinstance(item.get("Name"), str):
        echo["Name"] = item["Name"]
    if isinstance(item.get("Status"), str):
        echo["Status"] = item["Status"]
    echo["Contacts"] = []
    echo["HasValidationErrors"] = True
    echo["ValidationErrors"] = [{"Message": m} for m in errors]
    return echo


def _group_results(
    call: Call, results: list[tuple[dict[str, Any], ContactGroup | None, list[str]]]
) -> Response:
    if not _summarize(call):
        items = []
        for item, group, errors in results:
            if group is not None and not errors:
                view = call.org.group_view(group)
                view["StatusAttributeString"] = "OK"
            else:
                view = _group_echo(item, errors, group.group_id if group else None)
                view["StatusAttributeString"] = "ERROR"
            items.append(view)
        return call.ok("ContactGroups", items)
    failed = [_group_echo(item, errors, g.group_id if g else None) for item, g, errors in results if errors]
    if failed:
        return call.error(
            400, "ValidationException", "A validation exception occurred", number=10, elements=failed
        )
    return call.ok("ContactGroups", [call.org.group_view(g) for _, g, _ in results if g is not None])


def create_groups(call: Call) -> Response:
    items = _elements(call.json_body(), "ContactGroups", "ContactGroup")
    call.note_batch(len(items))
    results: list[tuple[dict[str, Any], ContactGroup | None, list[str]]] = []
    for item in items:
        if not isinstance(item, dict):
            raise PostDataInvalid("Each ContactGroup must be a JSON object")
        existing_id = item.get("ContactGroupID")
        if (
            call.request.method == "POST"
            and isinstance(existing_id, str)
            and existing_id.lower() in call.org.groups
        ):
            # POST /ContactGroups with an id updates that group (docs allow POST for create too).
            group = call.org.groups[existing_id.lower()]
            errors = call.org.update_group(group, item.get("Name"), _upper(item.get("Status")))
            results.append((item, group, errors))
            continue
        group, errors = call.org.create_group(item.get("Name"))
        results.append((item, group, errors))
    return _group_results(call, results)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def update_group(call: Call) -> Response:
    group = _group(call)
    if group is None:
        return wire.not_found()
    items = _elements(call.json_body(), "ContactGroups", "ContactGroup")
    call.note_batch(len(items))
    if len(items) != 1 or not isinstance(items[0], dict):
        raise PostDataInvalid("POST /ContactGroups/{ContactGroupID} takes exactly one ContactGroup object")
    item = items[0]
    errors = call.org.update_group(group, item.get("Name"), _upper(item.get("Status")))
    return _group_results(call, [(item, group, errors)])


def add_group_contacts(call: Call) -> Response:
    group = _group(call)
    if group is None:
        return wire.not_found()
    items = _elements(call.json_body(), "Contacts", "Contact")
    call.note_batch(len(items))
    cids = []
    for item in items:
        cid = item.get("ContactID") if isinstance(item, dict) else None
        if not isinstance(cid, str) or not is_guid(cid):
            raise PostDataInvalid("Each contact to add must carry a ContactID (GUID)")
        cids.append(cid.lower())
    results = [(cid, call.org.add_to_group(group, cid)) for cid in cids]
    failed = [
        {"ContactID": cid, "HasValidationErrors": True, "ValidationErrors": [{"Message": m} for m in errors]}
        for cid, errors in results
        if errors
    ]
    if failed:
        # Like contacts: the valid ones are added even though the answer is a 400.
        return call.error(
            400, "ValidationException", "A validation exception occurred", number=10, elements=failed
        )
    added = [
        {
            "ContactID": cid,
            "Addresses": [],
            "Phones": [],
            "ContactGroups": [],
            "ContactPersons": [],
            "HasValidationErrors": False,
            "ValidationErrors": [],
        }
        for cid, _ in results
    ]
    return call.ok("Contacts", added)


def remove_group_contact(call: Call) -> Response:
    group = _group(call)
    if group is None:
        return wire.not_found()
    cid = call.request.path_params["key"]
    if not is_guid(cid) or cid.lower() not in call.org.contacts:
        return wire.not_found()
    if not call.org.remove_from_group(group, cid.lower()):
        return call.error(
            400, "ValidationException", "The contact is not a member of this contact group.", number=10
        )
    return Response(status_code=204)


def clear_group_contacts(call: Call) -> Response:
    group = _group(call)
    if group is None:
        return wire.not_found()
    call.org.clear_group(group)
    return Response(status_code=204)


# ---- users --------------------------------------------------------------------------------------

USER_WHERE_FIELDS = {
    "EmailAddress": "str",
    "FirstName": "str",
    "LastName": "str",
    "OrganisationRole": "str",
    "UserID": "str",
    "IsSubscriber": "bool",
}
USER_ORDER_FIELDS = frozenset({"EmailAddress", "FirstName", "LastName", "UpdatedDateUTC", "UserID"})


def _user_sort_value(user: dict[str, Any], name: str) -> Any:
    if name == "UpdatedDateUTC":
        return user["UpdatedDateUTC"].timestamp()
    value = user.get(name)
    return fold(value) if isinstance(value, str) else ""


def get_users(call: Call) -> Response:
    params = call.params
    where = parse_where(params["where"], USER_WHERE_FIELDS) if params.get("where", "").strip() else ()
    order = parse_order(params.get("order"), USER_ORDER_FIELDS)
    since = parse_if_modified_since(call.request.headers.get("if-modified-since"))
    users = list(call.org.users.values())
    if since is not None:
        users = [u for u in users if int(u["UpdatedDateUTC"].timestamp()) >= since]
    for name, value in where:
        if USER_WHERE_FIELDS[name] == "bool":
            users = [u for u in users if bool(u.get(name, False)) == value]
        else:
            users = [u for u in users if isinstance(u.get(name), str) and fold(u[name]) == value]
    for name, descending in reversed(order):
        users.sort(key=lambda u, n=name: _user_sort_value(u, n), reverse=descending)
    return call.ok("Users", [call.org.user_view(u) for u in users])


def get_user(call: Call) -> Response:
    key = call.request.path_params["user"]
    user = call.org.users.get(key.lower()) if is_guid(key) else None
    if user is None:
        return wire.not_found()
    return call.ok("Users", [call.org.user_view(user)])


# ---- routing ------------------------------------------------------------------------------------


def routes(sandbox: Sandbox) -> list[BaseRoute]:
    def r(path: str, handler: Handler, scopes: frozenset[str], methods: list[str]) -> Route:
        return Route(PREFIX + path, endpoint(sandbox, scopes, handler), methods=methods)

    async def unknown(request: Request) -> Response:
        return wire.not_found()

    from sandbox.xero import money, money_writes  # both build on this module's pipeline

    return [
        *money.routes(r),
        *money_writes.routes(r),
        r("/Contacts", get_contacts, READ_SCOPES, ["GET"]),
        r("/Contacts", put_contacts, WRITE_SCOPES, ["PUT"]),
        r("/Contacts", post_contacts, WRITE_SCOPES, ["POST"]),
        r("/Contacts/{key}/History", get_history, READ_SCOPES, ["GET"]),
        # POST behaves as PUT for history (docs/api-facts.md#xero-history-notes).
        r("/Contacts/{key}/History", add_history, WRITE_SCOPES, ["PUT", "POST"]),
        r("/Contacts/{key}", get_contact, READ_SCOPES, ["GET"]),
        r("/Contacts/{key}", post_contact, WRITE_SCOPES, ["POST"]),
        r("/ContactGroups", get_groups, READ_SCOPES, ["GET"]),
        r("/ContactGroups", create_groups, WRITE_SCOPES, ["PUT", "POST"]),
        r("/ContactGroups/{group}/Contacts/{key}", remove_group_contact, WRITE_SCOPES, ["DELETE"]),
        r("/ContactGroups/{group}/Contacts", add_group_contacts, WRITE_SCOPES, ["PUT"]),
        r("/ContactGroups/{group}/Contacts", clear_group_contacts, WRITE_SCOPES, ["DELETE"]),
        r("/ContactGroups/{group}", get_group, READ_SCOPES, ["GET"]),
        r("/ContactGroups/{group}", update_group, WRITE_SCOPES, ["POST"]),
        r("/Users", get_users, SETTINGS_SCOPES, ["GET"]),
        r("/Users/{user}", get_user, SETTINGS_SCOPES, ["GET"]),
        Route(PREFIX + "/{rest:path}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]


# ---- injected faults ----------------------------------------------------------------------------


def fault_response(sandbox: Sandbox, kind: str, scope: Any) -> Response:
    """What Xero sends for an injected 429, 500 or 503 on the Accounting API."""
    if kind == "429":
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        tenant = headers.get("xero-tenant-id", "").strip().lower()
        _, _, raw = headers.get("authorization", "").partition(" ")
        token = getattr(sandbox.xero.identity, "access_tokens", {}).get(raw.strip())
        client_id = getattr(token, "client_id", "unknown")
        limiter = sandbox.xero.limiter
        limit_headers = limiter.headers(client_id, tenant)
        wait = limiter._windows(client_id, tenant)[0].seconds_left(sandbox.clock.timestamp())
        record = scope.get("state", {}).get("call")
        if record is not None:
            record.rate_limit_problem = "minute"
        return _rate_limited(sandbox, "minute", limit_headers, wait)
    if kind == "503":
        return wire.plain_text(SERVICE_OFFLINE_TEXT, 503)
    return _error_500()


# ---- admin: what a person does in Xero's UI, and test helpers ----------------------------------


def admin_routes(sandbox: Sandbox) -> list[BaseRoute]:
    base = "/_sandbox/xero"

    def org_for(request: Request, spec: dict[str, Any] | None = None) -> Organisation:
        tenant = request.query_params.get("tenant") or (spec or {}).get("tenant")
        if not tenant:
            return sandbox.xero.primary
        org = sandbox.xero.orgs.get(str(tenant).lower())
        if org is None:
            raise AdminError(f"unknown tenant {tenant}")
        return org

    def as_json(payload: Any, status: int = 200) -> Response:
        return Response(wire.to_json(payload), status_code=status, media_type="application/json")

    def outcome_response(org: Organisation, outcome: WriteOutcome, status: int = 200) -> Response:
        if not outcome.ok or not outcome.contact_id:
            return JSONResponse(
                {"error": "; ".join(outcome.errors), "messages": outcome.errors}, status_code=400
            )
        return as_json(org.view(org.contacts[outcome.contact_id]), status)

    def split_ui(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        extras = {k: spec[k] for k in (*UI_FIELDS_NO_BUMP, *UI_FIELDS_BUMP) if k in spec}
        element = parse_contact({k: v for k, v in spec.items() if k not in extras and k != "tenant"})
        return element, extras

    async def tenants(request: Request) -> Response:
        if request.method == "POST":
            try:
                spec = await read_json(request)
                sandbox.xero.add_organisations(int(spec.get("count", 1)), parties=int(spec.get("parties", 0)))
            except (AdminError, TypeError, ValueError) as exc:
                return admin_error(str(exc))
        out = []
        for tenant in sandbox.xero.tenants.values():
            org = sandbox.xero.orgs[tenant.tenant_id]
            out.append(
                {
                    "tenant_id": tenant.tenant_id,
                    "name": tenant.name,
                    "tenant_type": tenant.tenant_type,
                    "contacts": len(org.contacts),
                    "groups": len(org.active_groups()),
                    "users": len(org.users),
                    "limits": sandbox.xero.limiter.limits_for(tenant.tenant_id).as_dict(),
                }
            )
        return JSONResponse({"tenants": out, "primary": sandbox.xero.primary_tenant_id})

    async def tokens(request: Request) -> Response:
        try:
            spec = await read_json(request)
            tenant_ids = spec.get("tenant_ids")
            kwargs: dict[str, Any] = {
                "client_id": str(spec.get("client_id", "sandbox-client")),
                "kind": str(spec.get("kind", "user")),
            }
            if tenant_ids is not None:
                kwargs["tenant_ids"] = tuple(str(t).lower() for t in tenant_ids)
            elif kwargs["kind"] == "custom":
                kwargs["tenant_ids"] = (sandbox.xero.primary_tenant_id,)
            if spec.get("scopes") is not None:
                scopes = spec["scopes"]
                kwargs["scopes"] = frozenset(scopes.split() if isinstance(scopes, str) else scopes)
            token = sandbox.xero.identity.issue_access_token(**kwargs)
        except (AdminError, TypeError, ValueError) as exc:
            return admin_error(str(exc))
        first = token.tenant_ids[0] if token.tenant_ids else None
        return JSONResponse(
            {
                "access_token": token.token,
                "tenant_id": first,
                "tenant_ids": list(token.tenant_ids),
                "client_id": token.client_id,
                "scopes": sorted(token.scopes),
                "expires_at": token.expires_at.isoformat(),
            },
            status_code=201,
        )

    async def contacts(request: Request) -> Response:
        try:
            if request.method == "POST":
                spec = await read_json(request)
                org = org_for(request, spec)
                element, extras = split_ui(spec)
                outcome = org.write_contact(element, method="PUT", ui=True, ui_extra=extras)
                return outcome_response(org, outcome, 201)
            org = org_for(request)
            include_archived = request.query_params.get("include_archived", "true").lower() != "false"
            items = [
                org.view(r)
                for r in org.contacts.values()
                if include_archived or r.get("ContactStatus") != "ARCHIVED"
            ]
            return as_json({"contacts": items})
        except (AdminError, PostDataInvalid) as exc:
            return admin_error(str(exc))

    async def contact(request: Request) -> Response:
        try:
            spec = await read_json(request) if request.method == "PATCH" else {}
            org = org_for(request, spec)
            record = org.find(request.path_params["key"])
            if record is None:
                return admin_error("no such contact", 404)
            if request.method == "GET":
                return as_json(org.view(record))
            element, extras = split_ui(spec)
            outcome = org.write_contact(
                element, method="POST", target_id=record["ContactID"], ui=True, ui_extra=extras
            )
            return outcome_response(org, outcome)
        except (AdminError, PostDataInvalid) as exc:
            return admin_error(str(exc))

    def status_change(status: str) -> Callable[[Request], Awaitable[Response]]:
        async def change(request: Request) -> Response:
            try:
                org = org_for(request)
            except AdminError as exc:
                return admin_error(str(exc))
            record = org.find(request.path_params["key"])
            if record is None:
                return admin_error("no such contact", 404)
            outcome = org.write_contact(
                {"ContactStatus": status}, method="POST", target_id=record["ContactID"], ui=True
            )
            return outcome_response(org, outcome)

        return change

    async def merge(request: Request) -> Response:
        """Merge a contact into another as a person would: it is archived, pointing at the survivor."""
        try:
            spec = await read_json(request)
            org = org_for(request, spec)
        except AdminError as exc:
            return admin_error(str(exc))
        record = org.find(request.path_params["key"])
        survivor = org.find(str(spec.get("into", "")))
        if record is None or survivor is None:
            return admin_error("no such contact", 404)
        if survivor is record or survivor.get("ContactStatus") != "ACTIVE":
            # The facts describe only a merge into another contact that lives on; a merge into itself
            # or into an archived contact is refused, the stricter reading
            # (docs/api-facts.md#xero-archiving-and-restoring).
            return admin_error("a contact can only be merged into another, active contact")
        outcome = org.write_contact(
            {"ContactStatus": "ARCHIVED"},
            method="POST",
            target_id=record["ContactID"],
            ui=True,
            ui_extra={"MergedToContactID": survivor["ContactID"]},
        )
        return outcome_response(org, outcome)

    async def history(request: Request) -> Response:
        try:
            org = org_for(request)
        except AdminError as exc:
            return admin_error(str(exc))
        record = org.find(request.path_params["key"])
        if record is None:
            return admin_error("no such contact", 404)
        return as_json({"history": org.history_view(record["ContactID"])})

    async def repeating_invoices(request: Request) -> Response:
        """A person sets up a repeating invoice for a contact (POST), or lists them (GET)."""
        try:
            org = org_for(request)
        except AdminError as exc:
            return admin_error(str(exc))
        if request.method == "GET":
            return as_json({"repeating_invoices": list(org.repeating_invoices.values())})
        record = org.find(request.path_params["key"])
        if record is None:
            return admin_error("no such contact", 404)
        return as_json(org.add_repeating_invoice(record["ContactID"]), 201)

    async def repeating_invoice(request: Request) -> Response:
        """A person deletes a repeating invoice: its contact may be archived again."""
        try:
            org = org_for(request)
        except AdminError as exc:
            return admin_error(str(exc))
        if not org.delete_repeating_invoice(request.path_params["invoice_id"]):
            return admin_error("no such repeating invoice", 404)
        return Response(status_code=204)

    async def groups(request: Request) -> Response:
        try:
            org = org_for(request)
        except AdminError as exc:
            return admin_error(str(exc))
        return as_json({"groups": [org.group_view(g, with_contacts=True) for g in org.groups.values()]})

    async def limits(request: Request) -> Response:
        limiter = sandbox.xero.limiter
        tenant = request.query_params.get("tenant")
        if request.method == "PUT":
            try:
                spec = await read_json(request)
                tenant = spec.get("tenant", tenant)
                if tenant is not None and str(tenant).lower() not in sandbox.xero.tenants:
                    raise AdminError(f"unknown tenant {tenant}")
                limiter.set_limits(
                    str(tenant).lower() if tenant else None,
                    minute=spec.get("minute"),
                    day=spec.get("day"),
                    concurrent=spec.get("concurrent"),
                )
                if spec.get("app_minute") is not None:
                    limiter.app_minute_limit = int(spec["app_minute"])
            except (AdminError, TypeError, ValueError) as exc:
                return admin_error(str(exc))
        tenant_id = str(tenant).lower() if tenant else sandbox.xero.primary_tenant_id
        return JSONResponse({"tenant": tenant_id, **limiter.snapshot(tenant_id)})

    async def spend_calls(request: Request) -> Response:
        try:
            spec = await read_json(request)
            tenant = str(spec.get("tenant") or sandbox.xero.primary_tenant_id).lower()
            if tenant not in sandbox.xero.tenants:
                raise AdminError(f"unknown tenant {tenant}")
            left = sandbox.xero.limiter.spend(str(spec["client_id"]), tenant, int(spec["calls"]))
        except KeyError as exc:
            return admin_error(f"missing {exc.args[0]}")
        except (AdminError, TypeError, ValueError) as exc:
            return admin_error(str(exc))
        return JSONResponse({"tenant": tenant, "day_remaining": left})

    async def reset_limits(request: Request) -> Response:
        tenant = request.query_params.get("tenant")
        sandbox.xero.limiter.reset(tenant.lower() if tenant else None)
        return Response(status_code=204)

    async def idempotency(request: Request) -> Response:
        sandbox.xero.idempotency.clear()
        return Response(status_code=204)

    return [
        Route(f"{base}/tenants", tenants, methods=["GET", "POST"]),
        Route(f"{base}/tokens", tokens, methods=["POST"]),
        Route(f"{base}/contacts", contacts, methods=["GET", "POST"]),
        Route(f"{base}/contacts/{{key}}", contact, methods=["GET", "PATCH"]),
        Route(f"{base}/contacts/{{key}}/archive", status_change("ARCHIVED"), methods=["POST"]),
        Route(f"{base}/contacts/{{key}}/restore", status_change("ACTIVE"), methods=["POST"]),
        Route(f"{base}/contacts/{{key}}/merge", merge, methods=["POST"]),
        Route(f"{base}/contacts/{{key}}/history", history, methods=["GET"]),
        Route(f"{base}/contacts/{{key}}/repeating-invoices", repeating_invoices, methods=["POST"]),
        Route(f"{base}/repeating-invoices", repeating_invoices, methods=["GET"]),
        Route(f"{base}/repeating-invoices/{{invoice_id}}", repeating_invoice, methods=["DELETE"]),
        Route(f"{base}/groups", groups, methods=["GET"]),
        Route(f"{base}/limits", limits, methods=["GET", "PUT"]),
        Route(f"{base}/limits/reset", reset_limits, methods=["POST"]),
        Route(f"{base}/limits/spend", spend_calls, methods=["POST"]),
        Route(f"{base}/idempotency", idempotency, methods=["DELETE"]),
    ]

"""Capsule's response bodies: compact JSON, and its error shapes.

Facts: docs/api-facts.md#capsule-rate-limits, #capsule-errors.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def dumps(content: Any) -> bytes:
    return orjson.dumps(content)


class CapsuleJSON(Response):
    """Compact JSON like the real API: no pretty-printing (docs/api-facts.md#capsule-authentication)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


NOT_FOUND = {"message": "Could not find resource"}
METHOD_NOT_ALLOWED = {"message": "Method not allowed"}
# A 429 uses "error", not "message" (docs/api-facts.md#capsule-rate-limits).
RATE_LIMITED = {"error": "rate limit reached"}


class CapsuleError(Exception):
    """Raised anywhere below a handler; the API layer turns it into Capsule's answer."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> Response:
        return CapsuleJSON(self.body, status_code=self.status, headers=self.headers)


def not_found() -> CapsuleError:
    return CapsuleError(404, dict(NOT_FOUND))


def error_item(message: str, resource: str, field: str | None) -> dict[str, Any]:
    return {"message": message, "resource": resource, "field": field}


def validation(errors: list[dict[str, Any]]) -> CapsuleError:
    """422 exactly like examples/error-422.json."""
    return CapsuleError(422, {"message": "Validation Failed", "errors": errors})


def invalid(message: str, resource: str, field: str | None) -> CapsuleError:
    return validation([error_item(message, resource, field)])


def bad_request(message: str) -> CapsuleError:
    return CapsuleError(400, {"message": message})

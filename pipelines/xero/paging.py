"""Paging ``GET /Contacts`` so that a contact edited during the read cannot slip past it.

See ``ModifiedSinceWalk``; the facts it rests on are in docs/api-facts.md#xero-reading-contacts.
"""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime
from typing import Any

import requests
from dlt.sources.helpers.rest_client.paginators import BasePaginator

from pipelines.xero.records import modified_since_header, xero_ms
from pipelines.xero.settings import MODIFIED_SINCE_OVERLAP

log = logging.getLogger("pipelines.xero")


class ModifiedSinceWalk(BasePaginator):
    """Pages ``GET /Contacts`` by walking ``If-Modified-Since`` forward; stops on ``pagination.pageCount``.

    Contacts come ordered by ``UpdatedDateUTC`` (then ContactID). Rather than asking for page 2, 3 …
    of one fixed query — where a contact edited during the read moves from an early page to the end,
    shifts every later record one place back and so makes one of them slip past unread — each next
    request asks for page 1 again with ``If-Modified-Since`` set to the last record's second (less
    the overlap). Records read already (same ContactID and UpdatedDateUTC) are not passed on again.
    Only when a whole page falls inside that overlap (more than a page of contacts changed within
    ~2 seconds, e.g. a bulk import) does the walk step to page 2, 3 … of the same query until it can
    move on. The read ends on the page Xero calls the last (``page >= pageCount``) or an empty one.
    """

    def __init__(
        self,
        since: datetime | None,
        page_size: int,
        seen: dict[str, int] | None = None,
        key: str = "ContactID",
        sized: bool = True,
    ) -> None:
        """``seen``: the previous run's ``tail()``, so the records at its boundary, which the
        overlap reads again, are not passed on again. ``sized=False``: the endpoint takes no
        ``pageSize`` and answers without ``pagination`` (Quotes, docs/api-facts.md#xero-money-reading):
        ``page_size`` is its fixed page, and the read ends on a short page."""
        super().__init__()
        self.since = since
        self.page_size = page_size
        self.key = key
        self.sized = sized
        self.page = 1
        self.requests = 0
        self.fresh: list[dict[str, Any]] = []
        self.max_ms: int | None = None
        # key -> UpdatedDateUTC ms of the records read at or after the current header
        self._seen: dict[str, int] = dict(seen or {})
        self._ordered = True

    @staticmethod
    def _window_floor(ms: int) -> int:
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC).replace(microsecond=0) - MODIFIED_SINCE_OVERLAP
        return int(moment.timestamp() * 1000)

    def tail(self, limit: int = 2000) -> dict[str, int]:
        """The records the next run's overlap will read again (at most ``limit`` of them)."""
        if self.max_ms is None:
            return dict(self._seen) if len(self._seen) <= limit else {}
        floor = self._window_floor(self.max_ms)
        tail = {k: v for k, v in self._seen.items() if v >= floor}
        return tail if len(tail) <= limit else {}

    def _header_ms(self) -> int | None:
        if self.since is None:
            return None
        moment = self.since.astimezone(UTC).replace(microsecond=0) - MODIFIED_SINCE_OVERLAP
        return int(moment.timestamp() * 1000)

    def init_request(self, request: requests.Request) -> None:
        self._has_next_page = True
        self.update_request(request)

    def update_request(self, request: requests.Request) -> None:
        request.params = dict(request.params or {})
        request.params["page"] = self.page
        if self.sized:
            request.params["pageSize"] = self.page_size
        request.headers = dict(request.headers or {})
        if self.since is None:
            request.headers.pop("If-Modified-Since", None)
        else:
            request.headers["If-Modified-Since"] = modified_since_header(self.since)

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        self.requests += 1
        records = [r for r in data or [] if isinstance(r, dict)]
        stamps = [xero_ms(r.get("UpdatedDateUTC")) for r in records]
        self.fresh = []
        for record, ms in zip(records, stamps, strict=True):
            ident = record.get(self.key)
            if ident is not None and ms is not None and self._seen.get(ident) == ms:
                continue
            self.fresh.append(record)
            if ident is not None and ms is not None:
                self._seen[ident] = ms
        known = [ms for ms in stamps if ms is not None]
        if known:
            self.max_ms = max(self.max_ms or known[-1], max(known))
        if any(b < a for a, b in itertools.pairwise(known)):
            # Not in UpdatedDateUTC order: walking the header forward would not be safe; from here
            # on, plain page numbers of the current query.
            if self._ordered:
                log.warning("Xero returned contacts out of UpdatedDateUTC order; paging by page number")
            self._ordered = False
        page_count = ((response.json() or {}).get("pagination") or {}).get("pageCount")
        if page_count is None and not self.sized:
            last = len(records) < self.page_size
        else:
            last = page_count is None or self.page >= int(page_count)
        if not records or last:
            self._has_next_page = False
            return
        if self._ordered and known:
            candidate = datetime.fromtimestamp(known[-1] / 1000, tz=UTC)
            floor_ms = self._window_floor(known[-1])
            current = self._header_ms()
            overlap = sum(1 for ms in self._seen.values() if ms >= floor_ms)
            if (current is None or floor_ms > current) and overlap < self.page_size:
                self.since = candidate
                self.page = 1
                self._seen = {k: v for k, v in self._seen.items() if v >= floor_ms}
                return
        self.page += 1

    def __str__(self) -> str:
        return f"ModifiedSinceWalk(since={self.since}, page={self.page})"

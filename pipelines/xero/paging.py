"""Paging ``GET /Contacts`` and the money lists so that a record edited during the read cannot slip past it.

See ``ModifiedSinceWalk``; the facts it rests on are in docs/api-facts.md#xero-reading-contacts and
#xero-money-reading.
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
    """Pages a Xero list ordered ``UpdatedDateUTC ASC`` so that a record edited during the read cannot slip past it.

    Where the answer carries ``pagination`` with ``itemCount`` (Contacts, Invoices, CreditNotes,
    Payments), the read asks page 1, 2 … ``pageCount`` of one query: exactly ``ceil(n / pageSize)``
    calls (at least one). A record edited during that read moves from its place to the end, and
    every later record shifts one place back, so one of them can slip onto a page read already.
    Xero never hard-deletes and ``UpdatedDateUTC`` only moves forward, so the query only gains
    records: when the last page is read, fewer distinct records than the last answer's
    ``itemCount`` means one slipped. Only then does the read walk ``If-Modified-Since`` forward
    (below) from the oldest second a moved record had, which the slipped one cannot be older than.

    The walk (also the whole read of a list without ``itemCount``, e.g. Quotes): rather than asking
    for page 2, 3 …, each next request asks for page 1 again with ``If-Modified-Since`` set to the
    last record's second (less the overlap). Records read already (same key and UpdatedDateUTC) are
    not passed on again. Only when a whole page falls inside that overlap (more than a page of
    records changed within ~2 seconds, e.g. a bulk import) does the walk step to page 2, 3 … of the
    same query until it can move on. It costs more calls than plain pages where records share
    seconds (each step reads the overlap again), which is why it is not the first choice. The walk
    ends on the page Xero calls the last (``page >= pageCount``), an empty one, or, without
    ``pagination``, a short one.
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
        # Plain page numbers of one query until a slip is found (None: not known until the first answer).
        self._paged: bool | None = None
        self._read: dict[str, int | None] = {}  # key -> UpdatedDateUTC ms, every record this query answered
        self._anonymous = 0  # records without a key (not expected; counted so they cannot look lost)
        self._moved_from: int | None = None  # the oldest UpdatedDateUTC ms a re-read record had

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
                log.warning(
                    "Xero returned %s records out of UpdatedDateUTC order; paging by page number",
                    self.key.removesuffix("ID"),
                )
            self._ordered = False
        pagination = (response.json() or {}).get("pagination") or {}
        page_count = pagination.get("pageCount")
        if self._paged is None:
            self._paged = pagination.get("itemCount") is not None
        if self._paged:
            self._note_read(records, stamps)
            if records and page_count is not None and self.page < int(page_count):
                self.page += 1
                return
            if len(self._read) + self._anonymous >= int(pagination.get("itemCount") or 0):
                self._has_next_page = False
                return
            self._walk_from_slip(int(pagination["itemCount"]))
            return
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

    def _note_read(self, records: list[dict[str, Any]], stamps: list[int | None]) -> None:
        for record, ms in zip(records, stamps, strict=True):
            ident = record.get(self.key)
            if ident is None:
                # Counted all the same (never a match for a re-read): a record Xero lists is one read.
                self._anonymous += 1
                continue
            before = self._read.get(ident)
            if before is not None and ms is not None and before != ms:
                # Edited during the read: it moved to the end, and a record after its old place may
                # have slipped onto a page read already.
                self._moved_from = before if self._moved_from is None else min(self._moved_from, before)
            self._read[ident] = ms if ms is not None else before

    def _walk_from_slip(self, item_count: int) -> None:
        log.warning(
            "Xero's %s list changed during the read (%d of %d records read); reading again from the oldest change",
            self.key.removesuffix("ID"),
            len(self._read),
            item_count,
        )
        self._paged = False
        if self._moved_from is not None:
            self.since = datetime.fromtimestamp(self._moved_from / 1000, tz=UTC)
        self.page = 1

    def __str__(self) -> str:
        return f"ModifiedSinceWalk(since={self.since}, page={self.page})"

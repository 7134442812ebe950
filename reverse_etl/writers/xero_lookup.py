"""Finding out what Xero holds: contacts by ContactNumber and ContactID, archived ones included. What the
writer and the apply loop ask before sending anything again after a lost answer or a crash
(facts: docs/api-facts.md#xero-reading-contacts)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from reverse_etl.writers.xero_results import FoundContacts
from reverse_etl.writers.xero_session import XeroSession, fold, json_body

MAX_IDS_PER_CALL = 40  # ContactIDs per GET ?IDs= (Xero suggests ~40: the URL length is the limit)
LOOKUP_PAGE_SIZE = 1000  # the largest page Xero serves
# How far before an attempt's start the lookup reaches back: covers the difference between this
# machine's clock and Xero's (UpdatedDateUTC is Xero's time, the attempt's start is ours).
LOOKUP_MARGIN = timedelta(minutes=5)


class ContactLookup:
    def __init__(self, session: XeroSession, lookup_margin: timedelta = LOOKUP_MARGIN) -> None:
        self.session = session
        self.lookup_margin = lookup_margin

    def find(
        self,
        *,
        contact_numbers: Iterable[str] = (),
        contact_ids: Iterable[str] = (),
        modified_since: datetime | None = None,
    ) -> FoundContacts:
        """The contacts Xero holds with these ContactNumbers / ContactIDs (archived ones included).

        - ContactIDs: ``GET /Contacts?IDs=`` 40 at a time, one call per 40.
        - ContactNumbers with ``modified_since`` (when the interrupted write started): the contacts
          changed since then (less a clock margin) via ``If-Modified-Since``, 1,000 per page, until
          every number is found: one call for a lost batch. Any write bumps ``UpdatedDateUTC``, so a
          number not among them did not land.
        - ContactNumbers without a time: ``GET /Contacts/{ContactNumber}`` each. A ``where``
          OR-ing the numbers would be one call, but ContactNumber is not an optimised filter on
          Xero (slow, refused over 100k contacts) and the stand-in refuses OR outright.
        """
        found = FoundContacts()
        self._by_ids(found, sorted({str(i).lower() for i in contact_ids if i}))
        numbers = sorted({n for n in contact_numbers if n and n.strip()}, key=fold)
        missing = [n for n in numbers if found.number(n) is None]
        if missing and modified_since is not None:
            self._changed_since(found, missing, modified_since)
        elif missing:
            self._one_by_one(found, missing)
        return found

    def _by_ids(self, found: FoundContacts, ids: list[str]) -> None:
        for start in range(0, len(ids), MAX_IDS_PER_CALL):
            chunk = ids[start : start + MAX_IDS_PER_CALL]
            response = self.session.get(
                "/Contacts",
                {"IDs": ",".join(chunk), "includeArchived": "true", "page": "1", "pageSize": "100"},
            )
            found.calls += 1
            for contact in (json_body(response) or {}).get("Contacts") or ():
                found.add(contact)

    def _changed_since(self, found: FoundContacts, missing: list[str], modified_since: datetime) -> None:
        since = (modified_since - self.lookup_margin).astimezone(UTC)
        page, pages = 1, 1
        while page <= pages and any(found.number(n) is None for n in missing):
            response = self.session.get(
                "/Contacts",
                {"includeArchived": "true", "page": str(page), "pageSize": str(LOOKUP_PAGE_SIZE)},
                headers={"If-Modified-Since": since.strftime("%Y-%m-%dT%H:%M:%S")},
            )
            found.calls += 1
            body = json_body(response) or {}
            for contact in body.get("Contacts") or ():
                found.add(contact)
            pages = int((body.get("pagination") or {}).get("pageCount") or 0)
            page += 1

    def _one_by_one(self, found: FoundContacts, missing: list[str]) -> None:
        for number in missing:
            response = self.session.get(f"/Contacts/{quote(number, safe='')}", None, allow_404=True)
            found.calls += 1
            if response.status_code == 200:
                for contact in (json_body(response) or {}).get("Contacts") or ():
                    found.add(contact)

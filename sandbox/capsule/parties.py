"""Creating and updating parties: validation and the nested-array MERGE of ``PUT``
(docs/api-facts.md#capsule-parties, #capsule-writing).

Everything is applied to a deep copy (a draft); the stored record is replaced only when the whole
request validated, so a 422 leaves the party exactly as it was (and creates no tags).

Choices where the facts are silent are marked [INF] (docs/api-facts.md#where-the-facts-are-uncertain):
- nested-row ``id``s that are not on the record (update or ``_delete``) -> 422 "<row> not found";
- a custom field whose definition's ``captureRule`` excludes the party type -> 422;
- organisation name uniqueness is case-insensitive and ignores surrounding whitespace;
- e-mail addresses, phone numbers and titles are stored as typed (no format check);
- keys a client may not write (``id``, ``createdAt``, ``updatedAt``, ``pictureURL`` ...) and
  keys the API does not know are ignored, as the real API ignores unknown keys.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import TYPE_CHECKING, Any

from sandbox.capsule.errors import error_item, validation
from sandbox.capsule.render import ORG_PICTURE, person_picture

if TYPE_CHECKING:
    from sandbox.capsule.state import CapsuleState

Record = dict[str, Any]

# GET /countries: addresses must use one of these names (docs/api-facts.md#capsule-parties).
# A short list; extend freely.
COUNTRIES = (
    "Australia",
    "New Zealand",
    "United Kingdom",
    "Ireland",
    "United States",
    "Canada",
    "Singapore",
    "Malaysia",
    "Indonesia",
    "Hong Kong",
    "China",
    "Japan",
    "India",
    "Philippines",
    "Vietnam",
    "Thailand",
    "Fiji",
    "Papua New Guinea",
    "South Africa",
    "Germany",
    "France",
    "Netherlands",
)
_COUNTRY_BY_LOWER = {c.lower(): c for c in COUNTRIES}

ADDRESS_TYPES = ("Home", "Postal", "Office", "Billing", "Shipping")
WEBSITE_SERVICES = (
    "URL",
    "SKYPE",
    "TWITTER",
    "LINKED_IN",
    "FACEBOOK",
    "XING",
    "FEED",
    "GOOGLE_PLUS",
    "FLICKR",
    "GITHUB",
    "YOUTUBE",
    "INSTAGRAM",
    "PINTEREST",
)

PERSON_SCALARS = ("title", "firstName", "lastName", "jobTitle", "about")
ORG_SCALARS = ("name", "about")

# Writable attributes of each nested row, in the key order the API returns them.
ROWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "addresses": ("address", ("type", "city", "country", "street", "state", "zip")),
    "phoneNumbers": ("phoneNumber", ("type", "number")),
    "emailAddresses": ("emailAddress", ("type", "address")),
    "websites": ("website", ("type", "address", "service")),
}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def skeleton(kind: str, record_id: int, now: str) -> Record:
    """A new party with every key, in the order Capsule returns them (examples/party-*.json)."""
    head: Record = {"id": record_id, "owner": None, "team": None, "type": kind, "about": None}
    if kind == "person":
        head.update({"title": None, "firstName": None, "lastName": None, "jobTitle": None})
        head.update({"createdAt": now, "updatedAt": now, "organisation": None})
    else:
        head.update({"name": None, "createdAt": now, "updatedAt": now})
    head.update(
        {
            "lastContactedAt": None,
            "pictureURL": ORG_PICTURE if kind == "organisation" else None,
            "enrichment": None,
            "phoneNumbers": [],
            "addresses": [],
            "emailAddresses": [],
            "websites": [],
            "tags": [],
            "fields": [],
            "missingImportantFields": False,
        }
    )
    return head


class PartyWriter:
    """One create or update: collects every problem, then raises a single 422."""

    def __init__(self, state: CapsuleState) -> None:
        self.state = state
        self.errors: list[dict[str, Any]] = []
        self.renamed = False

    def fail(self, message: str, resource: str = "party", field: str | None = None) -> None:
        self.errors.append(error_item(message, resource, field))

    # Definition ids are unique only per entity kind (docs/api-facts.md#capsule-custom-fields-and-tags):
    # an opportunity writer looks its definitions up elsewhere.
    def definition(self, definition_id: int) -> Record | None:
        return self.state.field_definition(definition_id)

    def definition_by_name(self, name: str) -> Record | None:
        return self.state.field_definition_by_name(name)

    # ---- entry points ----------------------------------------------------------------------
    def create(self, body: Any, user_id: int) -> Record:
        body = self._body(body)
        kind = body.get("type")
        if kind not in ("person", "organisation"):
            raise validation([error_item("type must be person or organisation", "party", "type")])
        now = self.state.now_iso()
        draft = skeleton(kind, 0, now)
        # owner defaults to the token's user (docs/api-facts.md#capsule-parties)
        draft["owner"] = self.state.nested_user(user_id)
        self._apply(draft, body)
        self._finish(draft, creating=True)
        draft["id"] = self.state.parties.next_id()
        return draft

    def update(self, existing: Record, body: Any) -> Record:
        body = self._body(body)
        draft = copy.deepcopy(existing)
        new_name = body.get("name")
        self.renamed = (
            isinstance(new_name, str)
            and new_name.strip().lower() != (existing.get("name") or "").strip().lower()
        )
        if "type" in body and body["type"] != existing["type"]:
            self.fail("type cannot be changed", "party", "type")
        self._apply(draft, body)
        self._finish(draft, creating=False)
        draft["updatedAt"] = self.state.now_iso()  # every write bumps updatedAt, changed or not
        return draft

    # ---- the parts -------------------------------------------------------------------------
    def _body(self, body: Any) -> Record:
        party = body.get("party") if isinstance(body, dict) else None
        if not isinstance(party, dict):
            raise validation([error_item("party is required", "party", None)])
        return party

    def _apply(self, draft: Record, body: Record) -> None:
        kind = draft["type"]
        for key in PERSON_SCALARS if kind == "person" else ORG_SCALARS:
            if key in body:
                value = body[key]
                if value is not None and not isinstance(value, str):
                    self.fail(f"{key} must be a string", "party", key)
                else:
                    draft[key] = value
        if kind == "person" and "organisation" in body:
            self._organisation(draft, body["organisation"])
        if "owner" in body:
            self._owner(draft, body["owner"])
        if "team" in body:
            self._team(draft, body["team"])
        for key in ROWS:
            if key in body:
                draft[key] = self._merge_rows(key, draft[key], body[key])
        if "fields" in body:
            draft["fields"] = self._merge_fields(draft, body["fields"])
        if "tags" in body:
            draft["tags"] = self._merge_tags(draft["tags"], body["tags"])

    def _finish(self, draft: Record, creating: bool) -> None:
        state = self.state
        if draft["type"] == "person":
            if not ((draft.get("firstName") or "").strip() or (draft.get("lastName") or "").strip()):
                self.fail("firstName or lastName is required", "party", "firstName")
            picture = draft.get("pictureURL")
            if picture is None or picture.startswith("https://facehub.appspot.com/default/person"):
                draft["pictureURL"] = person_picture(draft.get("firstName"), draft.get("lastName"))
        else:
            name = (draft.get("name") or "").strip()
            if not name:
                self.fail("name is required", "party", "name")
            elif (creating or self.renamed) and state.org_name_taken(name, None if creating else draft["id"]):
                # [INF] checked only when the name is set or changed, so editing another field of a
                # record that (somehow) shares its name is not blocked by the old clash
                self.fail("name must be unique", "party", "name")
        if self.errors:
            raise validation(self.errors)
        # Only now, with the whole request valid, may the account gain new tags.
        for tag in draft["tags"]:
            if tag["id"] is None:
                created = state.create_tag(tag["name"])
                tag.update(id=created["id"], name=created["name"], dataTag=created["dataTag"])
        draft["missingImportantFields"] = state.missing_important(draft)

    def _organisation(self, draft: Record, value: Any) -> None:
        if value is None:
            draft["organisation"] = None
            return
        org_id = value.get("id") if isinstance(value, dict) else None
        org = self.state.parties.get(org_id) if isinstance(org_id, int) else None
        if org is None or org.get("type") != "organisation":
            self.fail("organisation not found", "party", "organisation")
            return
        draft["organisation"] = {
            "id": org["id"],
            "type": "organisation",
            "name": org.get("name"),
            "pictureURL": org.get("pictureURL"),
        }

    def _owner(self, draft: Record, value: Any) -> None:
        if value is None:
            draft["owner"] = None
            return
        user = None
        if isinstance(value, dict):
            if isinstance(value.get("id"), int):
                user = self.state.users_by_id.get(value["id"])
            elif isinstance(value.get("username"), str):
                user = next((u for u in self.state.users if u.get("username") == value["username"]), None)
        if user is None:
            self.fail("owner not found", "party", "owner")
            return
        draft["owner"] = self.state.nested_user(user["id"])

    def _team(self, draft: Record, value: Any) -> None:
        if value is None:
            draft["team"] = None
            return
        team_id = value.get("id") if isinstance(value, dict) else None
        team = self.state.teams.get(team_id) if isinstance(team_id, int) else None
        if team is None:
            self.fail("team not found", "party", "team")
            return
        draft["team"] = dict(team)

    # ---- addresses, phoneNumbers, emailAddresses, websites -----------------------------------
    def _merge_rows(self, key: str, rows: list[Record], items: Any) -> list[Record]:
        resource, attrs = ROWS[key]
        if not isinstance(items, list):
            self.fail(f"{key} must be a list", "party", key)
            return rows
        for item in items:
            if not isinstance(item, dict):
                self.fail(f"{key} items must be objects", resource, None)
                continue
            # `_destroy` is silently ignored; only `_delete` removes a row
            # (docs/api-facts.md#capsule-writing).
            row_id = item.get("id")
            if row_id is not None:
                index = next((i for i, r in enumerate(rows) if r.get("id") == row_id), None)
                if index is None:
                    self.fail(f"{resource} not found", resource, "id")
                    continue
                if item.get("_delete") is True:
                    del rows[index]
                    continue
                row = rows[index]
                for attr in attrs:
                    if attr in item:
                        row[attr] = item[attr]
                self._check_row(key, row)
            else:
                if item.get("_delete") is True:
                    self.fail(f"id is required to delete a {resource}", resource, "id")
                    continue
                row = {"id": self.state.next_row_id(), **{attr: item.get(attr) for attr in attrs}}
                if key == "websites":
                    row["url"] = None
                self._check_row(key, row)
                rows.append(row)
        return rows

    def _check_row(self, key: str, row: Record) -> None:
        resource, attrs = ROWS[key]
        for attr in attrs:
            if row.get(attr) is not None and not isinstance(row[attr], str):
                self.fail(f"{attr} must be a string", resource, attr)
                return
        if key == "addresses":
            if row.get("type") is not None:
                match = next((t for t in ADDRESS_TYPES if t.lower() == row["type"].lower()), None)
                if match is None:
                    self.fail(f"type must be one of {', '.join(ADDRESS_TYPES)}", resource, "type")
                row["type"] = match
            if row.get("country") is not None:
                country = _COUNTRY_BY_LOWER.get(row["country"].strip().lower())
                if country is None:
                    self.fail(f"{row['country']} is not a valid country", resource, "country")
                row["country"] = country
        elif key == "phoneNumbers":
            if not (row.get("number") or "").strip():
                self.fail("number is required", resource, "number")
        elif key == "emailAddresses":
            if not (row.get("address") or "").strip():
                self.fail("address is required", resource, "address")
        elif key == "websites":
            address = (row.get("address") or "").strip()
            if not address:
                self.fail("address is required", resource, "address")
            service = (row.get("service") or "URL").upper()
            if service not in WEBSITE_SERVICES:
                self.fail(f"service must be one of {', '.join(WEBSITE_SERVICES)}", resource, "service")
            row["service"] = service
            if address.lower().startswith(("http://", "https://")):
                row["url"] = address
            elif service == "URL":
                row["url"] = f"http://{address}"
            else:
                row["url"] = address

    # ---- custom fields ---------------------------------------------------------------------
    def _merge_fields(self, draft: Record, items: Any) -> list[Record]:
        rows: list[Record] = draft["fields"]
        if not isinstance(items, list):
            self.fail("fields must be a list", "party", "fields")
            return rows
        for item in items:
            if not isinstance(item, dict):
                self.fail("fields items must be objects", "fieldValue", None)
                continue
            row_id = item.get("id")
            if row_id is not None:
                index = next((i for i, r in enumerate(rows) if r.get("id") == row_id), None)
                if index is None:
                    self.fail("field value not found", "fieldValue", "id")
                    continue
                if item.get("_delete") is True:
                    del rows[index]
                    continue
                if "value" in item:
                    definition = self.definition(rows[index]["definition"]["id"])
                    self._set_value(rows, index, definition, item["value"])
                continue
            ref = item.get("definition")
            definition = None
            if isinstance(ref, dict):
                if isinstance(ref.get("id"), int):
                    definition = self.definition(ref["id"])
                elif isinstance(ref.get("name"), str):
                    definition = self.definition_by_name(ref["name"])
            if definition is None:
                self.fail("field definition not found", "fieldValue", "definition")
                continue
            rule = definition.get("captureRule")
            if rule is not None and rule != draft["type"]:
                self.fail(f"field '{definition['name']}' applies only to {rule}s", "fieldValue", "definition")
                continue
            if item.get("_delete") is True:
                self.fail("id is required to delete a field value", "fieldValue", "id")
                continue
            if "value" not in item:
                self.fail("value is required", "fieldValue", "value")
                continue
            # Update the existing value for that definition, or create one
            # (docs/api-facts.md#capsule-writing).
            index = next((i for i, r in enumerate(rows) if r["definition"]["id"] == definition["id"]), None)
            if index is None:
                if item["value"] is None and definition["type"] != "boolean":
                    continue  # clearing a value that is not there: nothing to do
                row: Record = {"id": None, "definition": {"id": definition["id"], "name": definition["name"]}}
                row["value"] = None
                if isinstance(definition.get("tag"), dict):
                    row["tagId"] = definition["tag"]["id"]
                rows.append(row)
                index = len(rows) - 1
                if not self._set_value(rows, index, definition, item["value"]):
                    del rows[index]
                    continue
                rows[index]["id"] = self.state.next_value_id()
            else:
                self._set_value(rows, index, definition, item["value"])
        return rows

    def _set_value(self, rows: list[Record], index: int, definition: Record | None, value: Any) -> bool:
        if definition is None:
            self.fail("field definition not found", "fieldValue", "definition")
            return False
        kind = definition.get("type")
        if value is None:
            if kind == "boolean":
                self.fail("value cannot be null for a boolean field; set false", "fieldValue", "value")
                return False
            del rows[index]  # value null clears the field (docs/api-facts.md#capsule-writing)
            return True
        stored = self._coerce(definition, value)
        if stored is _INVALID:
            return False
        rows[index]["value"] = stored
        return True

    def _coerce(self, definition: Record, value: Any) -> Any:
        kind = definition.get("type")
        name = definition.get("name")
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            self.fail(f"{name} must be true or false", "fieldValue", "value")
        elif kind == "number":
            # Observed live: number values come back as strings (docs/api-facts.md#capsule-parties);
            # accept numbers or strings.
            if isinstance(value, bool):
                pass
            elif isinstance(value, int):
                return str(value)
            elif isinstance(value, float):
                return str(int(value)) if value.is_integer() else repr(value)
            elif isinstance(value, str) and _NUMBER.match(value.strip()):
                return value.strip()
            self.fail(f"{name} must be a number", "fieldValue", "value")
        elif kind == "date":
            if isinstance(value, str) and _DATE.match(value):
                try:
                    date.fromisoformat(value)
                    return value
                except ValueError:
                    pass
            self.fail(f"{name} must be a date (YYYY-MM-DD)", "fieldValue", "value")
        elif kind == "list":
            options = definition.get("options") or []
            if isinstance(value, str) and value in options:
                return value
            self.fail(f"{name} must be one of the list options", "fieldValue", "value")
        else:  # text, link
            if isinstance(value, str):
                return value
            if isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
            self.fail(f"{name} must be text", "fieldValue", "value")
        return _INVALID

    # ---- tags ------------------------------------------------------------------------------
    def _merge_tags(self, tags: list[Record], items: Any) -> list[Record]:
        if not isinstance(items, list):
            self.fail("tags must be a list", "party", "tags")
            return tags
        for item in items:
            if not isinstance(item, dict):
                self.fail("tags items must be objects", "tag", None)
                continue
            name = item.get("name") if isinstance(item.get("name"), str) else None
            tag_id = item.get("id") if isinstance(item.get("id"), int) else None
            if item.get("_delete") is True:
                index = next(
                    (
                        i
                        for i, t in enumerate(tags)
                        if (tag_id is not None and t["id"] == tag_id)
                        or (tag_id is None and name is not None and t["name"].lower() == name.strip().lower())
                    ),
                    None,
                )
                if index is None:
                    # docs/api-facts.md#capsule-writing
                    self.fail("tag not found to delete", "party", "tags")
                else:
                    del tags[index]
                continue
            if tag_id is not None:
                tag = self.state.tag_by_id(tag_id)
                if tag is None:
                    self.fail("tag not found", "party", "tags")
                    continue
            elif name is not None and name.strip():
                tag = self.state.tag_by_name(name.strip())
                if tag is None:  # created when the whole request is valid (see _finish)
                    tag = {"id": None, "name": name.strip(), "dataTag": False}
            else:
                self.fail("tag name is required", "party", "tags")
                continue
            key = tag["name"].lower()
            if not any(t["name"].lower() == key for t in tags):  # re-adding is harmless
                tags.append({"id": tag["id"], "name": tag["name"], "dataTag": bool(tag.get("dataTag"))})
        return tags


_INVALID = object()

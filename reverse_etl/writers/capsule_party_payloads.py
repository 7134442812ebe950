"""What a pulled change (Xero → Capsule) sends to Capsule, and how to see it in a party read back
(docs/mapping.md#xero-to-capsule; the writer: reverse_etl/writers/capsule_parties.py).

Capsule merges the lists of a party (``emailAddresses``, ``phoneNumbers``, ``addresses``, ``websites``,
``fields``, ``tags``) into what it has: a row with an ``id`` is updated, ``{"id": …, "_delete": true}``
removes it, a row without an id is added (docs/api-facts.md#capsule-writing). So a body carries only
the changed fields, each list row by the id the plan read it from (``CapsuleChange.row_ids``); a row is
added only when the party had none for that field. Values are the canonical text of the contact shape
(transform/sql/reconcile/README.md), written so that staging reads them back as the same canonical
value: phones as E.164 text, an address's lines joined by newlines (staging splits them again), the
ABN as its 11 digits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass(frozen=True)
class CapsuleChange:
    """One row of ``ledger.plan_capsule_operations`` (docs: the shared design of issue 13)."""

    plan_id: int
    seq: int
    operation: str  # update | tag | untag | create | money
    party_id: int | None
    contact_id: str
    party_type: str | None
    changed_fields: tuple[str, ...]
    after: dict[str, str | None]
    before: dict[str, str | None] | None
    row_ids: dict[str, int | None]
    tag_name: str | None
    tag_id: int | None
    base: dict[str, str | None] | None
    reason: str | None

    def as_json(self) -> str:
        """The change as JSON text (kept in ``ledger.capsule_outbox`` so recovery needs no plan)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values["changed_fields"] = list(self.changed_fields)
        return json.dumps(values, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CapsuleChange:
        values = json.loads(text)
        values["changed_fields"] = tuple(values.get("changed_fields") or ())
        values["row_ids"] = {
            k: (int(v) if v is not None else None) for k, v in (values.get("row_ids") or {}).items()
        }
        values["after"] = dict(values.get("after") or {})
        return cls(**values)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CapsuleChange:
        """A row of ``ledger.plan_capsule_operations`` (its JSON columns come back as text)."""

        def parsed(name: str) -> Any:
            value = row.get(name)
            return json.loads(value) if isinstance(value, str) else value

        return cls.from_json(
            json.dumps(
                {
                    **{name: row.get(name) for name in cls.__dataclass_fields__},
                    "changed_fields": list(row.get("changed_fields") or ()),
                    **{name: parsed(name) for name in ("after", "before", "row_ids", "base")},
                },
                default=str,
            )
        )


@dataclass(frozen=True)
class ListRow:
    """A compared field kept in one row of a party list."""

    key: str  # the party's list
    added: Mapping[str, str]  # the label a new row gets (docs/mapping.md#xero-to-capsule)


# Phones by Xero type: DEFAULT → Work, MOBILE → Mobile, FAX → Fax (staging files a +614 number under
# the mobile whatever its label, docs/mapping.md#phones).
LIST_ROWS: dict[str, ListRow] = {
    "email_address": ListRow("emailAddresses", {"type": "Work"}),
    "phone_default": ListRow("phoneNumbers", {"type": "Work"}),
    "phone_mobile": ListRow("phoneNumbers", {"type": "Mobile"}),
    "phone_fax": ListRow("phoneNumbers", {"type": "Fax"}),
    "website": ListRow("websites", {"service": "URL"}),
    # Xero STREET ↔ the Office address, POBOX ↔ Postal (staging reads Office/Home/untyped as the
    # street and Postal/Billing as the postal address).
    "street_address": ListRow("addresses", {"type": "Office"}),
    "postal_address": ListRow("addresses", {"type": "Postal"}),
}
SCALARS = {"name": "name", "first_name": "firstName", "last_name": "lastName"}
ABN = "tax_number"
# The fields a party type takes (a person's Xero Name is derived from its first and last names).
NAME_FIELDS = {"organisation": ("name",), "person": ("first_name", "last_name")}


class PayloadError(ValueError):
    """A change that cannot be written as asked (e.g. the ABN field is missing in Capsule)."""


@dataclass(frozen=True)
class PartyRequest:
    """One call to Capsule for one change. ``idempotent``: the same state however often it lands, so
    the pacer may send it again after a lost answer (no row added or removed, no tag removed)."""

    method: str
    path: str
    body: dict[str, Any]
    idempotent: bool


def row_values(field: str, value: str) -> dict[str, Any]:
    """A list row's attributes holding the canonical ``value`` of ``field``."""
    if field in ("street_address", "postal_address"):
        address = json.loads(value)
        lines = [str(line) for line in address.get("lines") or () if line]
        return {
            "street": "\n".join(lines) or None,
            "city": address.get("city"),
            "state": address.get("region"),
            "zip": address.get("postal_code"),
            "country": address.get("country"),
        }
    if field.startswith("phone_"):
        return {"number": value}
    return {"address": value}


def _row_item(field: str, value: str | None, row_id: int | None) -> dict[str, Any] | None:
    if value is None:
        return {"id": row_id, "_delete": True} if row_id is not None else None  # nothing there to clear
    if row_id is not None:
        return {"id": row_id, **row_values(field, value)}
    return {**LIST_ROWS[field].added, **row_values(field, value)}


def _abn_item(definition_id: int | None, value: str | None) -> dict[str, Any]:
    if definition_id is None:
        raise PayloadError(
            "Capsule has no custom party field for the ABN named in the rules file (capsule.abn_field)"
        )
    return {"definition": {"id": definition_id}, "value": value}


def update_request(change: CapsuleChange, abn_definition: int | None) -> PartyRequest:
    """``PUT /parties/{id}`` with the changed fields only."""
    party: dict[str, Any] = {}
    changes_rows = False
    for field in change.changed_fields:
        value = change.after.get(field)
        if field in SCALARS:
            party[SCALARS[field]] = value
        elif field == ABN:
            party.setdefault("fields", []).append(_abn_item(abn_definition, value))
        elif field in LIST_ROWS:
            item = _row_item(field, value, change.row_ids.get(field))
            if item is not None:
                party.setdefault(LIST_ROWS[field].key, []).append(item)
                changes_rows = changes_rows or "id" not in item or "_delete" in item
        else:
            raise PayloadError(f"{field} is never written to Capsule")
    return PartyRequest("PUT", f"/parties/{change.party_id}", {"party": party}, idempotent=not changes_rows)


def tag_request(change: CapsuleChange, tag_name: str) -> PartyRequest:
    if change.operation == "tag":
        # Added by name (matched without regard to case, created when missing); adding it again is
        # harmless, so the call may be repeated.
        return PartyRequest(
            "PUT", f"/parties/{change.party_id}", {"party": {"tags": [{"name": tag_name}]}}, True
        )
    # Removed by id; removing a tag the party no longer has is a 422, so this is never repeated blind.
    item: dict[str, Any] = {"id": change.tag_id} if change.tag_id is not None else {"name": tag_name}
    return PartyRequest(
        "PUT", f"/parties/{change.party_id}", {"party": {"tags": [{**item, "_delete": True}]}}, False
    )


def money_request(change: CapsuleChange) -> PartyRequest:
    """``PUT /parties/{id}`` setting the money fields by definition (reconcile/capsule_money_updates.sql:
    ``after`` by field name, ``row_ids`` the definition ids; null clears a value). Setting a value by
    its definition changes the party's value or adds it, so the same call lands the same state however
    often it is sent (docs/api-facts.md#capsule-writing). Amounts go as their decimal text ("980.50"):
    Capsule hands number fields back as strings (docs/api-facts.md#capsule-custom-fields-and-tags), and
    text keeps them exact where a JSON number would pass through a float."""
    fields = []
    for name in change.changed_fields:
        definition_id = change.row_ids.get(name)
        if definition_id is None:
            raise PayloadError(
                f"Capsule has no party field named {name!r}: `capsule-xero report money_fields` shows the"
                " definition to create"
            )
        fields.append({"definition": {"id": definition_id}, "value": change.after.get(name)})
    return PartyRequest("PUT", f"/parties/{change.party_id}", {"party": {"fields": fields}}, idempotent=True)


def create_request(change: CapsuleChange, abn_definition: int | None, link_definition: int) -> PartyRequest:
    """``POST /parties`` with every field Xero has and the Xero Contact ID link in the same call."""
    kind = change.party_type or "organisation"
    party: dict[str, Any] = {"type": kind}
    for field in NAME_FIELDS.get(kind, ()):
        if change.after.get(field) is not None:
            party[SCALARS[field]] = change.after[field]
    for field, row in LIST_ROWS.items():
        value = change.after.get(field)
        if value is not None:
            party.setdefault(row.key, []).append({**row.added, **row_values(field, value)})
    fields = [{"definition": {"id": link_definition}, "value": change.contact_id}]
    if change.after.get(ABN) is not None and abn_definition is not None:
        fields.append({"definition": {"id": abn_definition}, "value": change.after[ABN]})
    party["fields"] = fields
    return PartyRequest("POST", "/parties", {"party": party}, idempotent=False)


# ---- reading a party back --------------------------------------------------------------------------
def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _row_key(field: str, row: Mapping[str, Any]) -> tuple[str, ...]:
    """A row's value as compared with what was sent (Capsule stores what it is sent, as typed)."""
    if field in ("street_address", "postal_address"):
        lines = tuple(line.strip() for line in _text(row.get("street")).replace("\r", "").split("\n"))
        return (
            "\n".join(line for line in lines if line),
            _text(row.get("city")),
            _text(row.get("state")),
            _text(row.get("zip")),
            _text(row.get("country")).casefold(),
        )
    if field.startswith("phone_"):
        return (_text(row.get("number")),)
    if field == "email_address":
        return (_text(row.get("address")).casefold(),)
    return (_text(row.get("address")),)


def _shows_row(party: Mapping[str, Any], field: str, value: str | None, row_id: int | None) -> bool:
    rows = [r for r in party.get(LIST_ROWS[field].key) or () if isinstance(r, Mapping)]
    if value is None:
        return row_id is None or all(r.get("id") != row_id for r in rows)
    wanted = _row_key(field, row_values(field, value))
    if row_id is not None:
        rows = [r for r in rows if r.get("id") == row_id]
    # An added row is found by its value: any row of the list holding it means the add landed.
    return any(_row_key(field, r) == wanted for r in rows)


def row_holding(party: Mapping[str, Any], field: str, value: str) -> int | None:
    """The id of the party's row of ``field`` that holds the canonical ``value`` (None when none does)."""
    wanted = _row_key(field, row_values(field, value))
    for row in party.get(LIST_ROWS[field].key) or ():
        if isinstance(row, Mapping) and _row_key(field, row) == wanted and isinstance(row.get("id"), int):
            return int(row["id"])
    return None


def field_value(party: Mapping[str, Any], definition_id: int | None) -> str | None:
    for item in party.get("fields") or ():
        if isinstance(item, Mapping) and (item.get("definition") or {}).get("id") == definition_id:
            return None if item.get("value") is None else str(item["value"])
    return None


def same_money_value(held: str | None, wanted: str | None) -> bool:
    """Whether Capsule's ``held`` text is the money value ``wanted`` (as reconcile/capsule_money_updates.sql
    compares them): numbers as decimals ("1200.5" is "1200.50"), zero as empty, dates and text as text."""
    held_text, wanted_text = _text(held), _text(wanted)
    try:
        held_number = Decimal(held_text.replace(",", "")) if held_text else Decimal(0)
        wanted_number = Decimal(wanted_text) if wanted_text else Decimal(0)
    except InvalidOperation:
        return held_text == wanted_text
    return held_number == wanted_number


def shows_change(
    party: Mapping[str, Any], change: CapsuleChange, abn_definition: int | None, tag_name: str
) -> bool:
    """Whether the party (read with ``embed=tags,fields``) holds what ``change`` wrote."""
    if change.operation == "money":
        return all(
            same_money_value(field_value(party, change.row_ids.get(name)), change.after.get(name))
            for name in change.changed_fields
        )
    if change.operation in ("tag", "untag"):
        tags = [t for t in party.get("tags") or () if isinstance(t, Mapping)]
        has = any(
            (change.tag_id is not None and t.get("id") == change.tag_id)
            or _text(t.get("name")).casefold() == tag_name.strip().casefold()
            for t in tags
        )
        return has if change.operation == "tag" else not has
    for field in change.changed_fields:
        value = change.after.get(field)
        if field in SCALARS:
            if _text(party.get(SCALARS[field])) != _text(value):
                return False
        elif field == ABN:
            if _text(field_value(party, abn_definition)) != _text(value):
                return False
        elif not _shows_row(party, field, value, change.row_ids.get(field)):
            return False
    return True

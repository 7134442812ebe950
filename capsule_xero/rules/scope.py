"""What syncs (``sync:``): the party types, people as contact persons or contacts, and only_if / skip_if."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from capsule_xero.rules.echo import show
from capsule_xero.rules.limits import MAX_CONDITIONS
from capsule_xero.rules.section import Section
from capsule_xero.rules.values import Emails, Name, Names, Text, one_or_many

# Capsule's tag names are short labels; this tool's tag is one of them (the stricter bound of Xero's
# group name, since a tag may also be a group).
TAG_NAME_LIMIT = 255

PartyType = Literal["organisation", "person"]


class Condition(Section):
    """One condition of ``sync.only_if`` / ``sync.skip_if``: exactly one of tag, type, owner, field."""

    _unknown_word: ClassVar[str] = "condition"
    _example: ClassVar[str] = "a condition such as {tag: Staff} or {field: Industry, equals: Mining}"
    KINDS: ClassVar[tuple[str, ...]] = ("tag", "type", "owner", "field")
    FIELD_TESTS: ClassVar[tuple[str, ...]] = ("equals", "in", "present")

    tag: Names | None = None
    type: Annotated[list[PartyType], BeforeValidator(one_or_many), Field(min_length=1)] | None = None
    owner: Emails | None = None
    field: Name | None = None
    equals: Text | None = None
    in_: Annotated[list[Text], BeforeValidator(one_or_many), Field(min_length=1)] | None = Field(
        default=None, alias="in"
    )
    present: bool | None = None

    @classmethod
    def expected_keys(cls, data: Any) -> list[str]:
        if isinstance(data, dict) and "field" in data:
            return ["field", *cls.FIELD_TESTS]
        return list(cls.KINDS)

    @property
    def kind(self) -> str:
        return next(k for k in self.KINDS if getattr(self, k) is not None)

    @property
    def field_test(self) -> str:
        return next(t for t in self.FIELD_TESTS if getattr(self, "in_" if t == "in" else t) is not None)

    @model_validator(mode="before")
    @classmethod
    def _no_empty_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            empty = [str(k) for k, v in data.items() if v is None and k in (*cls.KINDS, *cls.FIELD_TESTS)]
            if empty:
                raise ValueError(f"{', '.join(empty)} has no value")
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        kinds = [k for k in self.KINDS if getattr(self, k) is not None]
        tests = [t for t in self.FIELD_TESTS if getattr(self, "in_" if t == "in" else t) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a condition needs exactly one of tag, type, owner, field"
                + (f" (it has {', '.join(kinds)})" if kinds else "")
            )
        if kinds == ["field"] and len(tests) != 1:
            raise ValueError(
                f"field {show(self.field)} needs exactly one of equals, in, present"
                + (f" (it has {', '.join(tests)})" if tests else "")
            )
        if kinds != ["field"] and tests:
            raise ValueError(f"{', '.join(tests)} only goes with field (this is a {kinds[0]} condition)")
        return self


class SyncRules(Section):
    party_types: Annotated[list[PartyType], BeforeValidator(one_or_many), Field(min_length=1)] = [
        "organisation",
        "person",
    ]
    people: Literal["contact_persons", "contacts"] = "contact_persons"
    only_if: Annotated[list[Condition], Field(max_length=MAX_CONDITIONS)] = []
    skip_if: Annotated[list[Condition], Field(max_length=MAX_CONDITIONS)] = []
    # capsule_to_xero: Capsule → Xero only (the fields Xero owns are left alone); both: a field Xero
    # owns, or both sides own, also flows Xero → Capsule (docs/mapping.md).
    direction: Literal["capsule_to_xero", "both"] = "capsule_to_xero"
    # Xero contacts no Capsule party matches: none, the ones Xero marks as customers, or all.
    create_in_capsule: Literal["none", "customers", "all"] = "none"
    # The tag a synced party gets while someone else has archived its Xero contact (removed on restore).
    archived_tag: Annotated[Name, Field(max_length=TAG_NAME_LIMIT)] = "Archived in Xero"

    @model_validator(mode="after")
    def _creates_need_two_way(self) -> SyncRules:
        if self.create_in_capsule != "none" and self.direction != "both":
            raise ValueError(
                f"create_in_capsule: {self.create_in_capsule} writes to Capsule, so it needs direction: both"
            )
        return self

"""Which Capsule tags and owners become Xero contact groups (``groups:``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from capsule_xero.rules.echo import show
from capsule_xero.rules.limits import GROUP_NAME_LIMIT, MAX_CONTACT_GROUPS
from capsule_xero.rules.section import Section
from capsule_xero.rules.values import Name, Text, no_repeats

# Capsule tags the generated world's earlier sync kept as groups (sandbox/generator/CASES.md) and
# the common ones: a default that changes nothing for an account set up that way.
DEFAULT_GROUP_TAGS = ("Customer", "Supplier", "Wholesale", "VIP")


def _list_or_all(value: Any) -> Any:
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return "all"
        raise ValueError(f"{show(value)} should be a list of tag names, or all")
    return value


class GroupRules(Section):
    tags: Annotated[
        Literal["all"]
        | Annotated[
            list[Annotated[Name, Field(max_length=GROUP_NAME_LIMIT)]],
            Field(max_length=MAX_CONTACT_GROUPS),
            AfterValidator(no_repeats),
        ],
        BeforeValidator(_list_or_all),
    ] = list(DEFAULT_GROUP_TAGS)
    owners: bool = True
    owner_group_prefix: Text = Field(default="Owner: ", max_length=50)

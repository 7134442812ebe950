"""How a Capsule party and its Xero contact are tied: Capsule's custom fields and the ContactNumber prefix."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from capsule_xero.rules.echo import show
from capsule_xero.rules.limits import MAX_CONTACT_NUMBER_PREFIX
from capsule_xero.rules.section import Section
from capsule_xero.rules.values import Name, Text


class CapsuleRules(Section):
    abn_field: Name = "ABN"
    xero_contact_id_field: Name = "Xero Contact ID"


def _no_outer_spaces(value: str) -> str:
    if value != value.strip():
        raise ValueError(f"{show(value)} starts or ends with a space (Xero would not keep it)")
    return value


class XeroRules(Section):
    contact_number_prefix: Annotated[
        Text, Field(min_length=1, max_length=MAX_CONTACT_NUMBER_PREFIX), AfterValidator(_no_outer_spaces)
    ] = "CAP-"

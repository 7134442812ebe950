"""The whole rules file as one model, ``Rules``, and the SQL models' bound parameters it gives."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from capsule_xero.rules.alerts import AlertRules
from capsule_xero.rules.billing import BillingRules
from capsule_xero.rules.conflicts import ConflictRules, OwnershipRules
from capsule_xero.rules.echo import show
from capsule_xero.rules.fields import PULLABLE_FIELDS, READ_ONLY_IN_XERO
from capsule_xero.rules.groups import GroupRules
from capsule_xero.rules.identity import CapsuleRules, XeroRules
from capsule_xero.rules.limits import MAX_TRANSFORMS
from capsule_xero.rules.money import MoneyRules
from capsule_xero.rules.scope import SyncRules
from capsule_xero.rules.section import Section
from capsule_xero.rules.thresholds import ApprovalRules, MatchingRules, ValidationRules
from capsule_xero.rules.transforms import Transform


class Rules(Section):
    """The whole rules file; ``Rules()`` is the defaults (what runs when there is no file)."""

    _unknown_word: ClassVar[str] = "section"

    version: Literal[1] = 1
    capsule: CapsuleRules = CapsuleRules()
    xero: XeroRules = XeroRules()
    sync: SyncRules = SyncRules()
    transforms: Annotated[list[Transform], Field(max_length=MAX_TRANSFORMS)] = []
    groups: GroupRules = GroupRules()
    ownership: OwnershipRules = OwnershipRules()
    conflicts: ConflictRules = ConflictRules()
    matching: MatchingRules = MatchingRules()
    validation: ValidationRules = ValidationRules()
    approval: ApprovalRules = ApprovalRules()
    alerts: AlertRules = AlertRules()
    money: MoneyRules = MoneyRules()
    billing: BillingRules = BillingRules()

    @model_validator(mode="after")
    def _pulled_fields_are_not_transformed(self) -> Rules:
        # A transform shapes the value sent to Xero; the same value pulled back into Capsule would be
        # transformed again on the next run (a prefix twice, a truncation of a longer Xero edit): no
        # value would ever settle.
        transformed = sorted({t.field for t in self.transforms} & set(self.pulled_fields()))
        if transformed:
            raise ValueError(
                f"{', '.join(transformed)} flows from Xero to Capsule (sync.direction: both, ownership"
                " xero or both), so it cannot also have a transform: remove the transform or own the field in capsule"
            )
        return self

    @model_validator(mode="after")
    def _money_fields_are_not_the_link_fields(self) -> Rules:
        # A money total written into the ABN or Xero Contact ID field would break the link itself.
        taken = {
            self.capsule.abn_field.casefold(): "capsule.abn_field",
            self.capsule.xero_contact_id_field.casefold(): "capsule.xero_contact_id_field",
        }
        for key, name in self.money.capsule_fields.named().items():
            if name.casefold() in taken:
                raise ValueError(
                    f"money.capsule_fields.{key} names the field {show(name)} that {taken[name.casefold()]} already uses"
                )
        return self

    def money_access(self) -> dict[str, Literal["read", "write"]]:
        """What of Xero's money these rules need, by scope family (invoices, payments): read or write.

        Quotes and credit notes live under the invoices family (docs/api-facts.md#xero-scopes-for-money);
        creating draft quotes or invoices writes to it. Empty when nothing of money is on.
        """
        access: dict[str, Literal["read", "write"]] = {}
        if {"invoices", "quotes"} & set(self.money.read):
            access["invoices"] = "read"
        if "payments" in self.money.read:
            access["payments"] = "read"
        if self.billing.won_opportunities != "off":
            access["invoices"] = "write"
        return access

    def pulled_fields(self) -> list[str]:
        """The compared fields that may flow Xero → Capsule: owned by Xero or by both, with direction both."""
        if self.sync.direction != "both":
            return []
        return [f for f in PULLABLE_FIELDS if self.ownership.owner_of(f) in ("xero", "both")]

    def sql_params(self) -> dict[str, Any]:
        """The bound parameters of the SQL models (transform/sql/reconcile/README.md, "Rules parameters")."""
        all_tags = self.groups.tags == "all"
        return {
            "abn_field": self.capsule.abn_field,
            "xero_id_field": self.capsule.xero_contact_id_field,
            "contact_number_prefix": self.xero.contact_number_prefix,
            "min_confidence": self.matching.min_confidence,
            "people_as_contacts": self.sync.people == "contacts",
            "group_tags": [] if all_tags else list(self.groups.tags),
            "all_tags_are_groups": all_tags,
            "owner_groups": self.groups.owners,
            "owner_group_prefix": self.groups.owner_group_prefix,
            # Xero's Website is read-only through the API (docs/api-facts.md#xero-contact-fields-and-limits),
            # so whatever Capsule says, Xero's value stands; comparing it would plan an update
            # that can never land.
            "xero_owned_fields": sorted({*self.ownership.xero_owned(), *READ_ONLY_IN_XERO}),
            "conflict_policy": self.conflicts.policy,
            "name_collision": self.conflicts.name_collision,
            "restore_archived_by_xero": self.conflicts.archived_in_xero == "restore",
            "two_way": self.sync.direction == "both",
            "pulled_fields": self.pulled_fields(),
            # A read-only field owned by both can only ever flow Xero → Capsule: it is Xero's.
            "both_owned_fields": [f for f in self.ownership.both_owned() if f not in READ_ONLY_IN_XERO],
            "create_in_capsule": self.sync.create_in_capsule,
            "archived_tag": self.sync.archived_tag,
        }

    def effective(self) -> dict[str, Any]:
        """Every setting with defaults filled in, by its YAML names."""
        return self.model_dump(mode="json", by_alias=True)

    def fingerprint(self) -> str:
        """A stable hash of the effective rules: a file that spells out the defaults equals no file.

        ``alerts`` is left out: where alerts go does not change what a plan writes, so editing it must
        not make a waiting plan stale.
        """
        effective = {k: v for k, v in self.effective().items() if k != "alerts"}
        # Sections added after plans were first stored count only once they leave their defaults, so
        # a plan made before money existed is not made stale by the upgrade alone.
        for key, default in (("money", MoneyRules()), ("billing", BillingRules())):
            if getattr(self, key) == default:
                del effective[key]
        text = json.dumps(effective, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

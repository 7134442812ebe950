"""The deliberate cases: the earlier sync, deletions, hand-made Xero contacts, Capsule-only structures,
Xero-only contacts, and the background ("filler") parties around them. See CASES.md."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.generator import abn as abns
from sandbox.generator import capsule, phones, words, xero
from sandbox.generator.base import (
    DAY,
    HOUR,
    ORPHAN_ID_BASE,
    PARTY_ID_STRIDE,
    Profile,
    Record,
    copy_tree,
    exact_labels,
)
from sandbox.generator.cases import (
    FILLER_ORG_ABN,
    FILLER_ORG_ADDRESS,
    FILLER_ORG_EMAIL,
    FILLER_ORG_NAME,
    FILLER_PERSON_ADDRESS,
    FILLER_PERSON_ALONE_EMAIL,
    FILLER_PERSON_NAME,
    FILLER_PERSON_WITH_ORG_EMAIL,
    FILLER_PHONE,
)
from sandbox.generator.parties import PartyMaker
from sandbox.generator.text import ascii_fold, email_local, fold_name, iso, slug, utc_ms


class Roles(PartyMaker):
    # -- Xero helpers --------------------------------------------------------------------------------
    def add_contact(self, record: Record) -> Record:
        self.w.xfolds.add(fold_name(record["Name"]))
        self.contacts.append(record)
        return record

    def join_groups(self, contact: Record, party: Record, tags: list[Record] | None = None) -> None:
        """Put the contact in the groups of ``tags`` (default: the party's tags now) and its owner's."""
        if contact["ContactStatus"] != "ACTIVE":
            return
        for tag in party["tags"] if tags is None else tags:
            if tag["name"] in self.w.groups:
                self.w.groups[tag["name"]]["ContactIDs"].append(contact["ContactID"])
        if party["owner"] is not None:
            self.w.groups[f"Owner: {party['owner']['name']}"]["ContactIDs"].append(contact["ContactID"])

    def handmade_phones(self, state: str | None) -> list[Record]:
        rng = self.rng
        phone_list = xero.empty_phones()
        if rng.random() < 0.85:
            area = words.AREA_CODES.get(state or "NSW", "2")
            local = phones.make(rng, "landline_no_area_code", state)
            area_text = rng.choice((f"0{area}", f"(0{area})", area))
            xero.set_phone(phone_list, "DEFAULT", local, area_text, rng.choice(("61", "", "+61")))
        if rng.random() < 0.4:
            xero.set_phone(phone_list, "MOBILE", phones.make(rng, "mobile_local", state))
        return phone_list

    def handmade_street(self, state: str | None, force: bool = False) -> Record | None:
        rng = self.rng
        if rng.random() < 0.25 and not force:
            return None
        city, st, postcode = self.suburb(state)
        region = st if rng.random() < 0.7 else words.STATE_NAMES[st]
        country = rng.choice(("Australia", "Australia", "AU", ""))
        return xero.address("STREET", self.street().split("\n"), city, region, postcode, country)

    def handmade_contact(
        self,
        name: str,
        *,
        status: str = "ACTIVE",
        email: str | None = None,
        tax_number: str | None = None,
        state: str | None = None,
        contact_number: str | None = None,
        person: tuple[str, str] | None = None,
        updated: datetime | None = None,
        force_street: bool = False,
    ) -> Record:
        rng, w = self.rng, self.w
        account_number = None
        if rng.random() < 0.1:
            account_number = f"ACC-{w.next_account_number:05d}"
            w.next_account_number += 1
        is_supplier = rng.random() < 0.35
        website = None
        if (
            email
            and "@" in email
            and email.split("@")[1] not in words.FREE_MAIL_DOMAINS
            and rng.random() < 0.4
        ):
            website = f"www.{email.split('@')[1]}"
        record = xero.contact(
            contact_id=self.guid(),
            name=name,
            updated=updated or self.xero_time(w.t0 - 365 * DAY, w.now - HOUR),
            status=status,
            contact_number=contact_number,
            account_number=account_number,
            first_name=person[0] if person else None,
            last_name=person[1] if person else None,
            email=email,
            tax_number=tax_number,
            street=self.handmade_street(state, force_street),
            pobox=None,
            phone_list=self.handmade_phones(state),
            website=website,
            balances=xero.balances(round(rng.uniform(50, 9000), 2), 0.0) if rng.random() < 0.15 else None,
            is_supplier=is_supplier,
            is_customer=not is_supplier or rng.random() < 0.3,
        )
        if status == "ACTIVE":
            groups = w.groups
            if rng.random() < 0.05:
                groups["Christmas Card List"]["ContactIDs"].append(record["ContactID"])
            if is_supplier and rng.random() < 0.3:
                groups["Trade Suppliers"]["ContactIDs"].append(record["ContactID"])
            if rng.random() < 0.02:
                groups["Old Promo 2023"]["ContactIDs"].append(record["ContactID"])
        return record

    def fresh_xero_org_name(self) -> str:
        """A name no Capsule party and no Xero contact folds to (registered in the Xero set)."""
        rng = self.rng
        for _ in range(30):
            style = rng.randrange(4)
            surname = rng.choice(words.SURNAMES)
            if style == 0:
                name = f"The Trustee for the {surname} Family Trust"
                if rng.random() < 0.5:
                    name = f"The Trustee for the {surname} {rng.choice(words.NAME_STEMS)} Trust"
            elif style == 1:
                name = f"{surname} {rng.choice(('Holdings', 'Investments', 'Enterprises'))} Pty Ltd"
            else:
                name, _, _ = self.org_name()
            fold = fold_name(name)
            if self.fresh(fold):
                self.w.xfolds.add(fold)
                return name
        name, _, _ = self.org_name(pattern=5)
        self.w.xfolds.add(fold_name(name))
        return name

    def fresh_xero_person_name(self) -> tuple[str, str]:
        first, last, _, _ = self.person_name("normal", unique=True)
        self.w.xfolds.add(fold_name(f"{first} {last}"))
        return first, last

    # -- roles: the earlier sync ----------------------------------------------------------------------
    def synced_unit(
        self,
        *,
        org_only: bool = False,
        with_people: bool = True,
        live: bool = True,
        crossref: bool = True,
        need_email: bool = False,
    ) -> tuple[Record, list[Record], Record, int] | None:
        """A party (and its people) as the earlier sync left it, plus the Xero contact it wrote."""
        rng, w = self.rng, self.w
        is_org = org_only or rng.random() < 0.55
        n_people = rng.choices((0, 1, 2, 3), (35, 30, 20, 15))[0] if is_org and with_people else 0
        if live and 1 + n_people > self.budget:
            return None
        slots = self.take_old(1 + n_people)
        if slots is None:
            return None
        sync_ms = self.between(w.prev_sync * 1000, w.prev_sync_end * 1000 - 10_000)
        before = w.prev_sync - HOUR
        if is_org:
            party, people = self.org_unit(slots, self.clean_org_profile(), updated_hi=before)
        else:
            party = self.make_person(
                slots[0], self.clean_person_profile(False, need_email), None, updated_hi=before
            )
            people = []
        w.xfolds.add(fold_name(xero.desired_contact(party, people)["Name"]))
        contact_id = self.guid()
        contact = xero.synced_contact(party, people, contact_id, utc_ms(sync_ms), "ACTIVE")
        w.snapshots[contact_id] = copy_tree(contact)
        if crossref:
            self.set_xero_id(party, contact_id)
            party["updatedAt"] = iso(sync_ms // 1000 + rng.randint(1, 5))
        self.linked.add(party["id"])
        return party, people, contact, sync_ms

    def set_xero_id(self, party: Record, value: str) -> None:
        row = self.field(capsule.DEF_XERO_ID, value)
        at = 1 if party["fields"] and party["fields"][0]["definition"]["id"] == capsule.DEF_ABN else 0
        party["fields"].insert(at, row)

    def after_sync(self, lo_offset: int = HOUR) -> int:
        return self.between(self.w.prev_sync_end + lo_offset, self.w.now - 60)

    def change_capsule(self, party: Record, kind: str, at: int) -> None:
        rng = self.rng
        if kind == "email":
            if party["emailAddresses"]:
                row = party["emailAddresses"][0]
                local, domain = row["address"].split("@")
                row["address"] = self.unique_email(
                    f"{rng.choice(('new', 'office', 'admin'))}.{local}", domain
                )
            else:
                party["emailAddresses"].append(
                    {
                        "id": self.row(),
                        "type": "Work",
                        "address": self.free_email(slug(self.display_name(party))),
                    }
                )
        elif kind == "phone":
            state = party.get("_state")
            label = rng.choice(phones.CLEAN_FORMATS)
            if party["phoneNumbers"]:
                party["phoneNumbers"][0]["number"] = phones.make(rng, label, state)
            else:
                party["phoneNumbers"].append(self.phone_row(label, state))
        elif kind == "address":
            place = self.suburb(party.get("_state"))
            if party["addresses"]:
                row = party["addresses"][0]
                row.update(street=self.street(), city=place[0], zip=place[2])
            else:
                party["addresses"].append(
                    self.address_row("Office" if party["type"] == "organisation" else "Home", "au", place)
                )
        elif kind == "name":
            if party["type"] == "organisation":
                name, _, _ = self.org_name(suffix=" Pty Ltd")
                self.w.folds.add(fold_name(name))
                self.w.xfolds.add(fold_name(name))
                party["name"] = name
                for person in self.people_of.get(party["id"], ()):
                    person["organisation"]["name"] = name
            else:
                for _ in range(20):
                    last = rng.choice(words.SURNAMES)
                    fold = fold_name(f"{party['firstName']} {last}")
                    if self.fresh(fold):
                        break
                self.w.folds.add(fold)
                self.w.xfolds.add(fold)
                party["lastName"] = last
        else:  # tag
            have = {t["name"] for t in party["tags"]}
            tag = next((t for t in ("VIP", "Wholesale", "Supplier", "Customer") if t not in have), "VIP")
            if tag not in have:
                party["tags"].append(self.w.tag_refs[tag])
        party["updatedAt"] = iso(at)

    @staticmethod
    def display_name(party: Record) -> str:
        if party["type"] == "organisation":
            return party["name"]
        return f"{party['firstName']} {party['lastName']}"

    def change_xero(self, contact: Record, party: Record, kind: str, at_ms: int) -> None:
        rng = self.rng
        if kind == "email":
            domain = party.get("_domain") or rng.choice(words.FREE_MAIL_DOMAINS)
            contact["EmailAddress"] = self.unique_email(
                rng.choice(("accounts", "ap", "billing", "finance")), domain
            )
        elif kind == "phone":
            xero.set_phone(
                contact["Phones"],
                "DEFAULT",
                phones.make(rng, "landline_no_area_code", party.get("_state")),
                f"0{words.AREA_CODES.get(party.get('_state') or 'NSW', '2')}",
                "61",
            )
        else:
            street = contact["Addresses"][0]
            street.update(AddressLine1=self.street().split("\n")[0], AddressLine2="")
            if not street["City"]:
                city, st, postcode = self.suburb(party.get("_state"))
                street.update(City=city, Region=st, PostalCode=postcode, Country="Australia")
        contact["UpdatedDateUTC"] = utc_ms(at_ms)

    def role_synced(self, role: str) -> bool:
        rng, w = self.rng, self.w
        org_only = role == "synced_org_new_person"
        need_email = role.startswith("conflict_")
        made = self.synced_unit(
            org_only=org_only, crossref=role != "synced_crossref_missing_in_capsule", need_email=need_email
        )
        if made is None:
            return False
        party, people, contact, _sync_ms = made
        cid = contact["ContactID"]
        # Groups hold what the earlier sync wrote: a tag added in Capsule since must still be missing
        # from Xero, or "Capsule changed a tag" would show no difference at all.
        tags_at_sync = list(party["tags"])
        if role == "synced_capsule_changed":
            kind = rng.choice(("email", "phone", "address", "name", "tag"))
            self.change_capsule(party, kind, self.after_sync())
        elif role == "synced_xero_changed":
            at = self.after_sync()
            self.change_xero(
                contact, party, rng.choice(("email", "phone", "address")), at * 1000 + rng.randrange(1000)
            )
        elif role == "conflict_both_changed_xero_later":
            t1 = self.between(w.prev_sync_end + HOUR, w.now - 2 * DAY)
            t2 = self.between(t1 + 60, w.now - 60)
            self.change_capsule(party, "email", t1)
            self.change_xero(contact, party, "email", t2 * 1000 + rng.randrange(1000))
        elif role == "conflict_both_changed_capsule_later":
            t1 = self.between(w.prev_sync_end + HOUR, w.now - 2 * DAY)
            t2 = self.between(t1 + 60, w.now - 60)
            self.change_xero(contact, party, "email", t1 * 1000 + rng.randrange(1000))
            self.change_capsule(party, "email", t2)
        elif role == "xero_archived_synced_contact":
            contact["ContactStatus"] = "ARCHIVED"
            contact["UpdatedDateUTC"] = utc_ms(self.after_sync() * 1000 + rng.randrange(1000))
        self.join_groups(contact, party, tags_at_sync)
        if role == "synced_org_new_person":
            slot = self.take_new()
            if slot is None or self.budget < 2 + len(people):
                # No party made after the sync in this block: the unit stays plainly in sync.
                role = "synced_in_sync"
            else:
                newcomer = self.make_person(slot, self.clean_person_profile(True), party)
                people.append(newcomer)
                self.commit(party, people)
                self.add_contact(contact)
                self.mark(role, (party["id"], cid, newcomer["id"]))
                return True
        self.commit(party, people)
        self.add_contact(contact)
        self.mark(role, (party["id"], cid))
        return True

    def role_deleted_synced(self, role: str) -> bool:
        rng, w = self.rng, self.w
        made = self.synced_unit(with_people=False, live=False)
        if made is None:
            return False
        party, _people, contact, _sync_ms = made
        deleted_at = self.after_sync()
        if role == "deleted_party_synced_already_archived":
            contact["ContactStatus"] = "ARCHIVED"
            archived = self.between(deleted_at + HOUR, max(deleted_at + HOUR, w.now - 60))
            contact["UpdatedDateUTC"] = utc_ms(min(archived, w.now) * 1000)
        elif role == "deleted_party_synced_with_repeating_invoice":
            # A customer billed every month who still owes on it: the repeating invoice is what stops
            # Xero archiving the contact, not the balance (docs/api-facts.md#xero-archiving-and-restoring).
            contact["Balances"] = xero.balances(
                round(rng.uniform(200, 15000), 2), round(rng.uniform(0, 200), 2)
            )
            self.repeating_invoices.append(xero.repeating_invoice(contact))
        self.join_groups(contact, party)
        self.discard(party)
        self.tombstone(party["id"], deleted_at)
        self.add_contact(contact)
        self.mark(role, (party["id"], contact["ContactID"]))
        return True

    def tombstone(self, party_id: int, deleted_at: int) -> None:
        self.deleted.append({"id": party_id, "deletedAt": iso(deleted_at)})

    def role_deleted_party(self) -> bool:
        slot = self.take_any()
        pid = self.w.party_id(slot)
        self.tombstone(pid, self.between(self.w.slot_time(slot) + HOUR, self.w.now - 60))
        self.mark("deleted_party", pid)
        return True

    def role_stale_xero_contact_id(self) -> bool:
        if self.budget < 1:
            return False
        org = self.make_org(self.take_any(), self.clean_org_profile())
        self.set_xero_id(org, self.guid())  # a ContactID no Xero contact has (e.g. another tenant)
        self.people_of[org["id"]] = []
        self.commit(org)
        self.mark("stale_xero_contact_id", org["id"])
        self.linked.add(org["id"])
        return True

    # -- roles: hand-made Xero contacts near Capsule parties --------------------------------------------
    def capsule_org_for_match(
        self, abn: str | None = None, name_label: str = "normal", address: bool = False, **kw: Any
    ) -> Record | None:
        n_people = self.rng.choices((0, 1, 2, 3), (40, 30, 20, 10))[0]
        if self.budget < 1 + n_people:
            return None
        slots = [self.take_any() for _ in range(1 + n_people)]
        profile = self.clean_org_profile(abn, name_label, address)
        org, people = self.org_unit(slots, profile, **kw)
        org["_people"] = people
        return org

    def finish_match(self, role: str, org: Record, *contacts: Record) -> bool:
        self.commit(org, org.pop("_people", []))
        for contact in contacts:
            self.add_contact(contact)
        self.mark(role, (org["id"], *(c["ContactID"] for c in contacts)))
        self.linked.add(org["id"])
        return True

    def role_match_abn(self, role: str) -> bool:
        rng = self.rng
        org = self.capsule_org_for_match(abn=rng.choice(("spaced", "spaced", "plain")))
        if org is None:
            return False
        digits = abns.digits_of(
            next(f["value"] for f in org["fields"] if f["definition"]["id"] == capsule.DEF_ABN)
        )
        if role == "xero_match_abn":
            tax = next(f["value"] for f in org["fields"] if f["definition"]["id"] == capsule.DEF_ABN)
        else:
            capsule_text = next(f["value"] for f in org["fields"] if f["definition"]["id"] == capsule.DEF_ABN)
            options = [
                digits,
                abns.spaced(digits),
                f"{digits[:2]}-{digits[2:5]}-{digits[5:8]}-{digits[8:]}",
                f"ABN {abns.spaced(digits)}",
                f"{digits[:2]} {digits[2:]}",
            ]
            tax = rng.choice([o for o in options if o != capsule_text])
        email = f"accounts@{org['_domain']}" if org["_domain"] and rng.random() < 0.3 else None
        contact = self.handmade_contact(
            self.fresh_xero_org_name(), email=email, tax_number=tax, state=org["_state"]
        )
        return self.finish_match(role, org, contact)

    def role_match_email_domain(self) -> bool:
        rng = self.rng
        org = self.capsule_org_for_match(abn=rng.choice(("missing", "spaced")))
        if org is None:
            return False
        email = f"{rng.choice(('accounts', 'ap', 'admin', 'finance'))}@{org['_domain']}"
        if email in self.w.emails:
            email = f"payables@{org['_domain']}"
        self.w.emails.add(email)
        contact = self.handmade_contact(self.fresh_xero_org_name(), email=email, state=org["_state"])
        return self.finish_match("xero_match_email_domain", org, contact)

    def role_match_name(self, role: str) -> bool:
        rng = self.rng
        kw: dict[str, Any] = {}
        if role == "name_variant_ampersand":
            name, trade, industry = self.org_name(pattern=2, suffix=rng.choice((" Pty Ltd", "")))
            if rng.random() < 0.5:
                name = name.replace(" & ", " and ", 1)
            kw = {"name": name, "trade": trade, "industry": industry}
        elif role == "name_variant_legal_suffix":
            name, trade, industry = self.org_name(suffix=rng.choice((" Pty Ltd", " Pty Ltd", "")))
            kw = {"name": name, "trade": trade, "industry": industry}
        org = self.capsule_org_for_match(
            name_label="unicode_latin" if role == "name_variant_accents" else "normal", **kw
        )
        if org is None:
            return False
        name = org["name"]
        if role == "name_variant_case":
            xname = rng.choice((name.upper(), name.lower()))
        elif role == "name_variant_legal_suffix":
            if name.endswith(" Pty Ltd"):
                xname = name[: -len(" Pty Ltd")] + rng.choice(
                    (" Pty. Limited", " Pty Limited", " PTY. LTD.", "")
                )
            else:
                xname = name + rng.choice((" Pty Ltd", " Pty. Ltd.", " Pty Limited"))
        elif role == "name_variant_ampersand":
            xname = name.replace(" and ", " & ", 1) if " and " in name else name.replace(" & ", " and ", 1)
        elif role == "name_variant_accents":
            xname = ascii_fold(name)
        else:
            xname = name
        assert fold_name(xname) == fold_name(name)
        self.w.xfolds.add(fold_name(xname))
        email = self.free_email(email_local(rng.choice(words.FIRST_NAMES))) if rng.random() < 0.4 else None
        contact = self.handmade_contact(xname, email=email, state=org["_state"])
        return self.finish_match(role, org, contact)

    def role_person_match(self, role: str) -> bool:
        rng = self.rng
        if self.budget < 1:
            return False
        person = self.make_person(self.take_any(), self.clean_person_profile(False, need_email=True), None)
        first, last = person["firstName"], person["lastName"]
        capsule_email = person["emailAddresses"][0]["address"]
        if role == "xero_match_email_person":
            nick = words.NICKNAMES.get(first, first)
            own = fold_name(f"{first} {last}")
            candidates = [f"{nick} {last}"] + [f"{first} {last} ({self.suburb()[0]})" for _ in range(5)]
            xname = next(
                (c for c in candidates if self.fresh(fold_name(c)) or fold_name(c) == own),
                f"{first} {last} #{person['id']}",
            )
            email = capsule_email
            if rng.random() < 0.4:
                local, domain = email.split("@")
                email = local.capitalize() + "@" + domain.capitalize()
            contact = self.handmade_contact(xname, email=email, person=(nick, last))
        else:
            xname = f"{first} {last}"
            email = (
                self.free_email(f"{email_local(first)}{rng.randrange(10, 99)}")
                if rng.random() < 0.4
                else None
            )
            contact = self.handmade_contact(xname, email=email, person=(first, last))
        self.w.xfolds.add(fold_name(xname))
        self.live(person)
        self.add_contact(contact)
        self.mark(role, (person["id"], contact["ContactID"]))
        self.linked.add(person["id"])
        return True

    def role_same_name_xero(self) -> bool:
        org = self.capsule_org_for_match(abn="spaced", address=True)
        if org is None:
            return False
        other_state = self.rng.choice([s for s in words.AREA_CODES if s != org["_state"]])
        domain = self.org_domain(org["name"] + " " + other_state, "")
        contact = self.handmade_contact(
            org["name"],
            email=self.unique_email("accounts", domain),
            tax_number=abns.spaced(self.new_abn()),
            state=other_state,
            force_street=True,
        )
        return self.finish_match("xero_same_name_different_company", org, contact)

    def role_archived_collision(self) -> bool:
        org = self.capsule_org_for_match()
        if org is None:
            return False
        contact = self.handmade_contact(org["name"], status="ARCHIVED", state=org["_state"])
        return self.finish_match("xero_archived_name_collision", org, contact)

    def role_duplicate_abn(self) -> bool:
        org = self.capsule_org_for_match(abn="spaced")
        if org is None:
            return False
        digits = abns.digits_of(
            next(f["value"] for f in org["fields"] if f["definition"]["id"] == capsule.DEF_ABN)
        )
        first = self.handmade_contact(
            self.fresh_xero_org_name(), tax_number=abns.spaced(digits), state=org["_state"]
        )
        second = self.handmade_contact(self.fresh_xero_org_name(), tax_number=digits, state=org["_state"])
        return self.finish_match("xero_duplicate_abn", org, first, second)

    def role_free_mail_trap(self) -> bool:
        rng = self.rng
        if self.budget < 1:
            return False
        p = self.clean_org_profile()
        p.email = "free"
        org = self.make_org(self.take_any(), p)
        self.people_of[org["id"]] = []
        domain = org["emailAddresses"][0]["address"].split("@")[1]
        xname = self.fresh_xero_org_name()
        email = self.unique_email(slug(xname)[:20] or "accounts", domain)
        contact = self.handmade_contact(xname, email=email, state=rng.choice(list(words.AREA_CODES)))
        self.commit(org)
        self.add_contact(contact)
        self.mark("free_mail_domain_trap", (org["id"], contact["ContactID"]))
        return True

    # -- roles: Capsule-only structures ------------------------------------------------------------------
    def role_same_company_twice(self) -> bool:
        rng = self.rng
        if self.budget < 4:
            return False
        name, trade, industry = self.org_name(suffix=" Pty Ltd")
        variant = name[: -len(" Pty Ltd")] + rng.choice(("", " Pty. Limited", " Pty Limited"))
        digits = self.new_abn()
        first_org = self.make_org(
            self.take_any(),
            self.clean_org_profile(),
            name=name,
            trade=trade,
            industry=industry,
            abn_value=abns.spaced(digits),
        )
        second_org = self.make_org(
            self.take_any(),
            self.clean_org_profile(),
            name=variant,
            trade=trade,
            industry=industry,
            abn_value=rng.choice((digits, abns.spaced(digits))),
            state=first_org["_state"],
            fresh_name=False,
        )
        for org in (first_org, second_org):
            people = [
                self.make_person(self.take_any(), self.clean_person_profile(True), org)
                for _ in range(rng.randrange(0, 2))
            ]
            self.people_of[org["id"]] = people
            self.commit(org, people)
            self.linked.add(org["id"])
        self.mark("same_company_twice", (first_org["id"], second_org["id"]))
        return True

    def role_same_name_different_company(self) -> bool:
        rng = self.rng
        if self.budget < 4:
            return False
        name, trade, industry = self.org_name(suffix=" Pty Ltd")
        states = rng.sample(sorted(words.AREA_CODES), 2)
        first_org = self.make_org(
            self.take_any(),
            self.clean_org_profile("spaced", address=True),
            name=name,
            trade=trade,
            industry=industry,
            state=states[0],
        )
        second_org = self.make_org(
            self.take_any(),
            self.clean_org_profile("spaced", address=True),
            name=name[: -len(" Pty Ltd")],
            trade=trade,
            industry=industry,
            state=states[1],
            fresh_name=False,
            domain=self.org_domain(f"{name} {states[1]}", trade),
        )
        for org in (first_org, second_org):
            people = [
                self.make_person(self.take_any(), self.clean_person_profile(True), org)
                for _ in range(rng.randrange(0, 2))
            ]
            self.people_of[org["id"]] = people
            self.commit(org, people)
            self.linked.add(org["id"])
        self.mark("same_name_different_company", (first_org["id"], second_org["id"]))
        return True

    def role_big_org(self) -> bool:
        n_people = self.rng.randrange(6, 13)
        if self.budget < 1 + n_people:
            return False
        slots = [self.take_any() for _ in range(1 + n_people)]
        org, people = self.org_unit(slots, self.clean_org_profile())
        self.commit(org, people)
        self.mark("org_more_than_five_people", org["id"])
        return True

    # -- roles: Xero only ----------------------------------------------------------------------------
    def role_xero_only(self, role: str) -> bool:
        rng, w = self.rng, self.w
        state = rng.choice(words.SUBURBS)[1]
        status = "ARCHIVED" if role == "xero_only_archived" else "ACTIVE"
        number = None
        if role == "xero_foreign_contact_number":
            number = rng.choice(("MYOB-{:05d}", "C{:04d}", "SHOPIFY-{:06d}")).format(w.next_foreign_number)
            w.next_foreign_number += 1
        elif role == "xero_orphan_contact_number":
            number = f"{xero.CONTACT_NUMBER_PREFIX}{ORPHAN_ID_BASE + w.next_orphan * PARTY_ID_STRIDE}"
            w.next_orphan += 1
        if rng.random() < 0.3:
            first, last = self.fresh_xero_person_name()
            email = (
                self.free_email(f"{email_local(first)}.{email_local(last)}") if rng.random() < 0.7 else None
            )
            contact = self.handmade_contact(
                f"{first} {last}",
                status=status,
                email=email,
                state=state,
                contact_number=number,
                person=(first, last),
            )
        else:
            name = self.fresh_xero_org_name()
            roll = rng.random()
            email = None
            if roll < 0.65:
                email = self.unique_email(rng.choice(words.ORG_MAILBOXES), self.org_domain(name, ""))
            elif roll < 0.8:
                email = self.free_email(slug(name)[:20])
            tax = None
            if rng.random() < 0.4:
                digits = self.new_abn()
                tax = rng.choice((abns.spaced(digits), digits))
            contact = self.handmade_contact(
                name, status=status, email=email, tax_number=tax, state=state, contact_number=number
            )
        self.add_contact(contact)
        self.mark(role, contact["ContactID"])
        return True

    # -- filler --------------------------------------------------------------------------------------
    def fill(self) -> None:
        rng = self.rng
        units: list[int] = []  # people per organisation; -1 = a person without organisation
        remaining = self.budget
        while remaining > 0:
            if rng.random() < 0.45:
                k = min(rng.choices((0, 1, 2, 3, 4, 5), (30, 28, 20, 12, 6, 4))[0], remaining - 1)
                units.append(k)
                remaining -= 1 + k
            else:
                units.append(-1)
                remaining -= 1
        n_orgs = sum(1 for u in units if u >= 0)
        n_with = sum(u for u in units if u > 0)
        n_alone = sum(1 for u in units if u < 0)
        n_parties = n_orgs + n_with + n_alone
        org_abn = iter(exact_labels(rng, n_orgs, FILLER_ORG_ABN, "spaced"))
        org_email = iter(exact_labels(rng, n_orgs, FILLER_ORG_EMAIL, "domain"))
        org_name = iter(exact_labels(rng, n_orgs, FILLER_ORG_NAME, "normal"))
        org_address = iter(exact_labels(rng, n_orgs, FILLER_ORG_ADDRESS, "au"))
        person_name = iter(exact_labels(rng, n_with + n_alone, FILLER_PERSON_NAME, "normal"))
        with_email = iter(exact_labels(rng, n_with, FILLER_PERSON_WITH_ORG_EMAIL, "work"))
        alone_email = iter(exact_labels(rng, n_alone, FILLER_PERSON_ALONE_EMAIL, "free"))
        person_address = iter(exact_labels(rng, n_with + n_alone, FILLER_PERSON_ADDRESS, "au"))
        phone = iter(exact_labels(rng, n_parties, FILLER_PHONE, "mobile_local"))
        for unit in units:
            if unit < 0:
                p = Profile(
                    next(person_name), "missing", next(alone_email), next(phone), next(person_address)
                )
                self.live(self.make_person(self.take_any(), p, None))
                continue
            p = Profile(next(org_name), next(org_abn), next(org_email), next(phone), next(org_address))
            org = self.make_org(self.take_any(), p)
            people = []
            for _ in range(unit):
                pp = Profile(
                    next(person_name), "missing", next(with_email), next(phone), next(person_address)
                )
                people.append(self.make_person(self.take_any(), pp, org))
            self.people_of[org["id"]] = people
            self.commit(org, people)

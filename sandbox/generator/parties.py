"""Capsule parties and their details: names, e-mail, phones, addresses, tags, fields; the users."""

from __future__ import annotations

import itertools
from typing import Any

from sandbox.generator import abn as abns
from sandbox.generator import capsule, phones, words
from sandbox.generator.base import (
    DAY,
    HOUR,
    SUBURBS_BY_STATE,
    SUFFIX_WEIGHTS,
    SUFFIXES,
    TIMEZONES,
    USER_ID_BASE,
    BlockBase,
    Profile,
    Record,
    user_count,
)
from sandbox.generator.text import email_local, fold_name, iso, iso_date, slug


class PartyMaker(BlockBase):
    # -- names -----------------------------------------------------------------------------------------
    def fresh(self, fold: str) -> bool:
        return bool(fold) and fold not in self.w.folds and fold not in self.w.xfolds

    def org_name(
        self, label: str = "normal", *, pattern: int | None = None, suffix: str | None = None
    ) -> tuple:
        """A fresh organisation name (folded form unused anywhere) and its (trade, industry)."""
        rng = self.rng
        for attempt in range(40):
            trade, industry = rng.choice(words.TRADES)
            if label in ("unicode", "unicode_latin"):
                templates = words.UNICODE_ORG_LATIN
                if label == "unicode" and rng.random() < 0.35:
                    templates = words.UNICODE_ORG_OTHER
                base = rng.choice(templates).format(
                    stem=rng.choice(words.NAME_STEMS), surname=rng.choice(words.SURNAMES), trade=trade
                )
            else:
                # The plain patterns fill up in big worlds; later attempts widen the space.
                if pattern is not None:
                    kind = pattern
                elif attempt < 3:
                    kind = rng.choices((0, 1, 2, 3, 4), cum_weights=(30, 55, 70, 90, 100))[0]
                elif attempt < 12:
                    kind = 6
                else:
                    kind = 2 if attempt < 20 else 5
                surname, surname2 = rng.choice(words.SURNAMES), rng.choice(words.SURNAMES)
                if kind == 0:
                    base = f"{rng.choice(words.NAME_STEMS)} {trade}"
                elif kind == 1:
                    base = f"{surname} {trade}"
                elif kind == 6:
                    where = rng.choice((rng.choice(words.NAME_STEMS), surname, rng.choice(words.SUBURBS)[0]))
                    base = f"{where} {rng.choice(words.QUALIFIERS)} {trade}"
                elif kind == 2:
                    base = (
                        f"{surname} & {surname2} {trade}"
                        if surname != surname2
                        else f"{surname} & Sons {trade}"
                    )
                elif kind == 3:
                    base = f"{rng.choice(words.SUBURBS)[0]} {trade}"
                elif kind == 4:
                    base = f"{surname} Bros {trade}"
                else:
                    base = f"{surname}-{surname2} {rng.choice(words.NAME_STEMS)} {trade}"
            name = base + (suffix if suffix is not None else rng.choices(SUFFIXES, SUFFIX_WEIGHTS)[0])
            fold = fold_name(name)
            if self.fresh(fold):
                if label == "long":
                    name = self.long_name(name)
                return name, trade, industry
        # Exhausted (only at absurd sizes): a numbered name is always fresh.
        self.w.next_fallback += 1
        return f"{base} No. {self.w.next_fallback}", trade, industry

    def long_name(self, name: str) -> str:
        parts = [name]
        while sum(len(p) + 1 for p in parts) <= 255 + self.rng.randrange(10, 120):
            parts.append(self.rng.choice(words.LONG_NAME_PARTS))
            parts.append(f"{self.rng.choice(words.SURNAMES)} {self.rng.choice(words.NAME_STEMS)}")
        return " ".join(parts)

    def person_name(self, label: str, unique: bool) -> tuple[str, str, str, str]:
        """(first, last, ascii first, ascii last); ``unique`` names are fresh and registered."""
        rng = self.rng
        for attempt in range(30):
            if label == "unicode":
                first, last, afirst, alast = rng.choice(words.UNICODE_PEOPLE)
                if attempt >= 2 or rng.random() < 0.5:  # widen the space: keep one non-ASCII half
                    keep_first = not first.isascii() and (last.isascii() or rng.random() < 0.5)
                    if keep_first:
                        last = rng.choice(words.SURNAMES)
                        alast = email_local(last)
                    else:
                        first = rng.choice(words.FIRST_NAMES)
                        afirst = first.lower()
            else:
                first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.SURNAMES)
                if attempt >= 4:  # plain first/last pairs fill up in big worlds
                    last = f"{last}-{rng.choice(words.SURNAMES)}"
                afirst, alast = first.lower(), email_local(last)
            if not unique:
                return first, last, afirst, alast
            fold = fold_name(f"{first} {last}")
            if self.fresh(fold):
                self.w.folds.add(fold)
                return first, last, afirst, alast
        self.w.next_fallback += 1
        last = f"{last}-{self.w.next_fallback}"
        self.w.folds.add(fold_name(f"{first} {last}"))
        return first, last, afirst, email_local(last)

    # -- contact details ---------------------------------------------------------------------------
    def org_domain(self, name: str, trade: str) -> str:
        base = slug(name)[:40] or slug(trade) or "business"
        for tld in (
            self.rng.choices((".com.au", ".com", ".net.au", ".au"), (70, 18, 7, 5))[0],
            ".com.au",
            ".net.au",
        ):
            if base + tld not in self.w.domains:
                self.w.domains.add(base + tld)
                return base + tld
        while True:
            domain = f"{base}{self.rng.choice(words.SUBURBS)[0].lower().replace(' ', '')}.com.au"
            if domain not in self.w.domains:
                self.w.domains.add(domain)
                return domain

    def unique_email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        while email in self.w.emails:
            email = f"{local}{self.rng.randrange(2, 999)}@{domain}"
        self.w.emails.add(email)
        return email

    def person_email(self, afirst: str, alast: str, domain: str) -> str:
        afirst, alast = email_local(afirst) or "x", alast or "y"
        style = self.rng.randrange(4)
        local = (f"{afirst}.{alast}", f"{afirst[0]}{alast}", afirst, f"{afirst}{alast[0]}")[style]
        return self.unique_email(local, domain)

    def free_email(self, local: str) -> str:
        domain = self.rng.choice(words.FREE_MAIL_DOMAINS)
        if self.rng.random() < 0.5:
            local = f"{local}{self.rng.randrange(1, 99)}"
        return self.unique_email(local or "mail", domain)

    def bad_email(self, local: str, domain: str) -> str:
        """A malformed address of one of the usual kinds (never plausible, see xero.is_plausible_email)."""
        local = local or "info"
        style = self.rng.randrange(6)
        if style == 0:
            return f"{local} {domain}"  # missing @
        if style == 1:
            return f"{local.replace('.', ' ', 1) if '.' in local else local + ' x'}@{domain}"  # space
        if style == 2:
            return f"{local}@{domain.replace('.', '..', 1)}"  # double dot
        if style == 3:
            return f"{local}@{domain}."  # trailing dot
        if style == 4:
            return f"{local}@@{domain}"
        return f"{local}@{domain.split('.')[0]}"  # no top-level domain

    def suburb(self, state: str | None = None) -> tuple[str, str, str]:
        if state is None:
            return self.rng.choice(words.SUBURBS)
        return self.rng.choice(SUBURBS_BY_STATE[state])

    def street(self) -> str:
        rng = self.rng
        name = f"{rng.choice(words.STREET_NAMES)} {rng.choice(words.STREET_TYPES)[rng.random() < 0.3]}"
        number = rng.randrange(1, 400)
        style = rng.randrange(10)
        if style < 5:
            return f"{number} {name}"
        if style == 5:
            return f"Unit {rng.randrange(1, 20)}, {number} {name}"
        if style == 6:
            return f"{rng.randrange(1, 20)}/{number} {name}"
        if style == 7:
            return f"Level {rng.randrange(1, 30)}, {number} {name}"
        if style == 8:
            return f"Level {rng.randrange(1, 30)}\n{number} {name}"
        return f"Shop {rng.randrange(1, 40)}, {number} {name}"

    def address_row(self, kind: str | None, label: str, place: tuple[str, str, str]) -> Record:
        rng = self.rng
        if label == "overseas":
            city, region, postcode = rng.choice(words.NZ_PLACES)
            return {
                "id": self.row(),
                "type": kind,
                "city": city,
                "country": "New Zealand",
                "street": self.street(),
                "state": region,
                "zip": postcode,
            }
        city, state, postcode = place
        if label == "state_unnormalised":
            state = words.STATE_NAMES[state] if rng.random() < 0.6 else state.lower()
        if kind in ("Postal", "Billing") and rng.random() < 0.6:
            street = rng.choice(("PO Box", "GPO Box", "Locked Bag")) + f" {rng.randrange(1, 9999)}"
        else:
            street = self.street()
        return {
            "id": self.row(),
            "type": kind,
            "city": city,
            "country": "Australia",
            "street": street,
            "state": state,
            "zip": postcode,
        }

    def phone_row(self, label: str, state: str | None, kind: str | None = None) -> Record:
        if kind is None:
            kind = (
                "Mobile"
                if label in phones.MOBILE_FORMATS
                else self.rng.choice(("Work", "Work", "Work", None))
            )
        return {"id": self.row(), "type": kind, "number": phones.make(self.rng, label, state)}

    def owner(self) -> tuple[Record | None, Record | None]:
        if not self.w.user_cum_weights or self.rng.random() < 0.07:
            return None, None
        i = self.rng.choices(range(len(self.w.users)), cum_weights=self.w.user_cum_weights)[0]
        team = self.w.user_teams[i] if self.rng.random() < 0.6 else None
        return self.w.user_refs[i], team

    def updated(self, created: int, hi: int | None = None) -> int:
        hi = self.w.now if hi is None else hi
        if self.rng.random() < 0.3:
            return min(hi, created + self.rng.randrange(HOUR)) if hi > created else created
        return self.between(created, hi)

    def field(self, definition: int, value: Any) -> Record:
        row = {"id": self.value_id(), "definition": self.w.def_refs[definition], "value": value}
        if definition == capsule.DEF_CREDIT_LIMIT:
            row["tagId"] = 98001
        return row

    # -- profiles ------------------------------------------------------------------------------------
    def clean_org_profile(
        self, abn: str | None = None, name: str = "normal", address: bool = False
    ) -> Profile:
        rng = self.rng
        if abn is None:
            abn = rng.choices(("spaced", "plain", "missing"), (70, 15, 15))[0]
        phone = rng.choice(phones.CLEAN_FORMATS) if rng.random() < 0.9 else "none"
        return Profile(name, abn, "domain", phone, "au" if address or rng.random() < 0.9 else "none")

    def clean_person_profile(self, with_org: bool, need_email: bool = False) -> Profile:
        rng = self.rng
        if with_org:
            email = rng.choices(("work", "free", "none"), (65, 20, 15))[0]
        else:
            email = rng.choices(("free", "own", "none"), (60, 25, 15))[0]
        if need_email and email == "none":
            email = "work" if with_org else "free"
        phone = rng.choice(phones.CLEAN_FORMATS) if rng.random() < 0.85 else "none"
        name = "unicode" if rng.random() < 0.03 else "normal"
        return Profile(name, "missing", email, phone, "au" if rng.random() < 0.3 else "none")

    # -- parties -------------------------------------------------------------------------------------
    def make_org(
        self,
        slot: int,
        p: Profile,
        *,
        name: str | None = None,
        trade: str | None = None,
        industry: str | None = None,
        abn_value: str | None = None,
        state: str | None = None,
        domain: str | None = None,
        updated_hi: int | None = None,
        fresh_name: bool = True,
    ) -> Record:
        rng, w = self.rng, self.w
        pid = w.party_id(slot)
        created = w.slot_time(slot)
        if name is None:
            name, trade, industry = self.org_name(p.name)
        elif trade is None:
            trade, industry = rng.choice(words.TRADES)
        if fresh_name:
            w.folds.add(fold_name(name))
        place = self.suburb(state)
        state = place[1]
        # e-mail and web
        emails: list[Record] = []
        websites: list[Record] = []
        if p.email in ("domain", "bad") and domain is None:
            domain = self.org_domain(name, trade)
        mailbox = rng.choice(words.ORG_MAILBOXES)
        if p.email == "domain":
            emails.append({"id": self.row(), "type": "Work", "address": self.unique_email(mailbox, domain)})
            if rng.random() < 0.2:
                other = rng.choice([m for m in words.ORG_MAILBOXES if m != mailbox])
                emails.append({"id": self.row(), "type": "Work", "address": self.unique_email(other, domain)})
        elif p.email == "free":
            emails.append({"id": self.row(), "type": "Work", "address": self.free_email(slug(name)[:24])})
            self.pend(pid, "free_mail_organisation")
        elif p.email == "bad":
            emails.append({"id": self.row(), "type": "Work", "address": self.bad_email(mailbox, domain)})
            self.pend(pid, "bad_email")
        if domain is not None and p.email != "free" and rng.random() < 0.85:
            address = rng.choice((domain, f"www.{domain}", f"https://{domain}/", f"http://www.{domain}"))
            websites.append(
                {
                    "id": self.row(),
                    "type": None,
                    "address": address,
                    "service": "URL",
                    "url": address if address.startswith("http") else f"http://{address}",
                }
            )
        if rng.random() < 0.1:
            handle = slug(name)[:30] or "company"
            link = f"https://www.linkedin.com/company/{handle}/"
            websites.append(
                {"id": self.row(), "type": None, "address": link, "service": "LINKED_IN", "url": link}
            )
        # phones
        phone_rows: list[Record] = []
        if p.phone != "none":
            phone_rows.append(self.phone_row(p.phone, state))
            self.pend(pid, f"phone_{p.phone}")
            if rng.random() < 0.15:
                phone_rows.append(self.phone_row("landline_spaced", state, "Fax"))
                self.pend(pid, "phone_landline_spaced")
        # addresses
        address_rows: list[Record] = []
        if p.address != "none":
            kind = rng.choices(("Office", None, "Billing"), (85, 5, 10))[0]
            address_rows.append(self.address_row(kind, p.address, place))
            if rng.random() < 0.25:
                address_rows.append(self.address_row(rng.choice(("Postal", "Billing")), p.address, place))
            if p.address == "state_unnormalised":
                self.pend(pid, "address_state_unnormalised")
            elif p.address == "overseas":
                self.pend(pid, "address_overseas")
        # tags
        tags: list[Record] = []
        roll = rng.random()
        if roll < 0.55:
            tags.append(self.w.tag_refs["Customer"])
        elif roll < 0.75:
            tags.append(self.w.tag_refs["Prospect"])
        trade_account = rng.random() < 0.08
        if trade_account:
            tags.insert(0, self.w.tag_refs["Trade Account"])
        for tag, chance in (("Supplier", 0.12), ("Wholesale", 0.10), ("VIP", 0.05)):
            if rng.random() < chance:
                tags.append(self.w.tag_refs[tag])
        # fields
        fields: list[Record] = []
        abn_text = abn_value if abn_value is not None else self.abn_text(p.abn)
        if abn_text is not None:
            fields.append(self.field(capsule.DEF_ABN, abn_text))
        self.pend(pid, self.abn_case(abn_text))
        if rng.random() < 0.4:
            fields.append(self.field(capsule.DEF_PAYMENT_TERMS, rng.choice(("7", "14", "30", "30", "60"))))
        if rng.random() < 0.6:
            fields.append(self.field(capsule.DEF_INDUSTRY, industry))
        if rng.random() < 0.5:
            fields.append(self.field(capsule.DEF_GST, rng.random() < 0.8))
        if rng.random() < 0.3:
            fields.append(
                self.field(
                    capsule.DEF_CUSTOMER_SINCE, iso_date(self.between(created - 2 * 365 * DAY, created))
                )
            )
        if trade_account:
            fields.append(
                self.field(capsule.DEF_CREDIT_LIMIT, rng.choice(("5000", "10000", "25000", "50000")))
            )
        # the rest
        owner, team = self.owner()
        if owner is None:
            self.pend(pid, "party_without_owner")
        if p.name in ("unicode", "unicode_latin"):
            self.pend(pid, "unicode_name")
        elif p.name == "long":
            self.pend(pid, "over_long_name")
        about = None
        if rng.random() < 0.5:
            about = rng.choice(words.ABOUT_ORG).format(
                trade=trade, trade_lower=trade.lower(), suburb=place[0], state=state
            )
        updated = self.updated(created, updated_hi)
        record = capsule.organisation(
            id=pid,
            owner=owner,
            team=team,
            about=about,
            name=name,
            created=iso(created),
            updated=iso(updated),
            last_contacted=iso(self.between(created, updated)) if rng.random() < 0.55 else None,
            phones=phone_rows,
            addresses=address_rows,
            emails=emails,
            websites=websites,
            tags=tags,
            fields=fields,
        )
        record["_domain"] = domain  # removed before the record leaves the block
        record["_state"] = state
        return record

    def abn_text(self, label: str) -> str | None:
        rng = self.rng
        if label == "missing":
            return None
        if label == "invalid_checksum":
            return abns.spaced(abns.make_invalid_checksum(rng))
        if label == "wrong_length":
            return abns.wrong_length(rng)
        digits = self.new_abn()
        if label == "plain":
            return digits
        if label == "odd":
            return abns.odd_format(digits, rng)
        return abns.spaced(digits)

    def new_abn(self) -> str:
        while True:
            digits = abns.make_valid(self.rng)
            if digits not in self.w.abns:
                self.w.abns.add(digits)
                return digits

    @staticmethod
    def abn_case(text: str | None) -> str:
        if text is None:
            return "abn_missing"
        digits = abns.digits_of(text)
        if len(digits) != 11:
            return "abn_wrong_length"
        if not abns.is_valid(text):
            return "abn_invalid_checksum"
        if text == digits:
            return "abn_valid_plain"
        if text == abns.spaced(digits):
            return "abn_valid_spaced"
        return "abn_valid_odd_format"

    def make_person(
        self,
        slot: int,
        p: Profile,
        org: Record | None,
        *,
        updated_hi: int | None = None,
        staff: bool = False,
    ) -> Record:
        rng, w = self.rng, self.w
        pid = w.party_id(slot)
        created = w.slot_time(slot)
        first, last, afirst, alast = self.person_name(p.name, unique=org is None)
        if p.name == "unicode":
            self.pend(pid, "unicode_name")
        state = org["_state"] if org is not None else None
        emails: list[Record] = []
        if staff:
            emails.append(
                {
                    "id": self.row(),
                    "type": "Work",
                    "address": self.unique_email(f"{afirst}.{alast}", capsule.BUSINESS_DOMAIN),
                }
            )
        elif p.email == "work" and org is not None and org["_domain"]:
            emails.append(
                {
                    "id": self.row(),
                    "type": "Work",
                    "address": self.person_email(afirst, alast, org["_domain"]),
                }
            )
        elif p.email in ("free", "work"):
            emails.append({"id": self.row(), "type": "Home", "address": self.free_email(f"{afirst}.{alast}")})
            self.pend(pid, "free_mail_person")
        elif p.email == "own":
            domain = self.org_domain(f"{first} {last}", "")
            emails.append(
                {"id": self.row(), "type": "Work", "address": self.person_email(afirst, alast, domain)}
            )
        elif p.email == "bad":
            domain = (
                org["_domain"] if org is not None and org["_domain"] else rng.choice(words.FREE_MAIL_DOMAINS)
            )
            emails.append(
                {"id": self.row(), "type": None, "address": self.bad_email(f"{afirst}.{alast}", domain)}
            )
            self.pend(pid, "bad_email")
        phone_rows: list[Record] = []
        if p.phone != "none":
            phone_rows.append(self.phone_row(p.phone, state))
            self.pend(pid, f"phone_{p.phone}")
            if rng.random() < 0.2:
                phone_rows.append(self.phone_row("mobile_local", state, "Mobile"))
                self.pend(pid, "phone_mobile_local")
        address_rows: list[Record] = []
        if p.address != "none":
            address_rows.append(self.address_row("Home", p.address, self.suburb(state)))
            if p.address == "state_unnormalised":
                self.pend(pid, "address_state_unnormalised")
            elif p.address == "overseas":
                self.pend(pid, "address_overseas")
        websites: list[Record] = []
        if rng.random() < 0.05:
            link = f"https://www.linkedin.com/in/{afirst}-{alast}-{rng.randrange(100, 999)}/"
            websites.append(
                {"id": self.row(), "type": None, "address": link, "service": "LINKED_IN", "url": link}
            )
        tags: list[Record] = []
        fields: list[Record] = []
        if staff:
            tags.append(self.w.tag_refs["Staff"])
        else:
            if rng.random() < 0.2:
                tags.append(self.w.tag_refs["Newsletter"])
                fields.append(self.field(capsule.DEF_NEWSLETTER, True))
            elif rng.random() < 0.1:
                fields.append(self.field(capsule.DEF_NEWSLETTER, False))
            if org is None and rng.random() < 0.3:
                tags.append(self.w.tag_refs["Customer"])
            if rng.random() < 0.02:
                tags.append(self.w.tag_refs["VIP"])
            if rng.random() < 0.05:
                fields.append(
                    self.field(
                        capsule.DEF_CUSTOMER_SINCE, iso_date(self.between(created - 365 * DAY, created))
                    )
                )
        if org is not None:
            owner, team = org["owner"], org["team"]
            if rng.random() < 0.15:
                owner, team = self.owner()
        else:
            owner, team = self.owner()
        if owner is None and not staff:
            self.pend(pid, "party_without_owner")
        self.pend(pid, "person_with_organisation" if org is not None else "person_without_organisation")
        updated = self.updated(created, updated_hi)
        with_job = rng.random() < (0.8 if org is not None else 0.2)
        record = capsule.person(
            id=pid,
            owner=owner,
            team=team,
            about="Met at the trade expo." if rng.random() < 0.05 else None,
            title=rng.choice(words.TITLES) if rng.random() < 0.4 else None,
            first=first,
            last=last,
            job_title=rng.choice(words.JOB_TITLES) if with_job else None,
            created=iso(created),
            updated=iso(updated),
            org=org,
            last_contacted=iso(self.between(created, updated)) if rng.random() < 0.4 else None,
            phones=phone_rows,
            addresses=address_rows,
            emails=emails,
            websites=websites,
            tags=tags,
            fields=fields,
        )
        record["_ascii"] = (afirst, alast)
        return record

    def org_unit(
        self,
        slots: list[int],
        p: Profile,
        *,
        updated_hi: int | None = None,
        **org_kwargs: Any,
    ) -> tuple[Record, list[Record]]:
        """An organisation on ``slots[0]`` and one clean person on each further slot."""
        org = self.make_org(slots[0], p, updated_hi=updated_hi, **org_kwargs)
        people = [
            self.make_person(slot, self.clean_person_profile(True), org, updated_hi=updated_hi)
            for slot in slots[1:]
        ]
        self.people_of[org["id"]] = people
        return org, people

    def commit(self, org: Record, people: list[Record] | None = None) -> None:
        self.live(org)
        for person in people or ():
            self.live(person)

    # -- users ---------------------------------------------------------------------------------------------
    def build_users(self) -> None:
        w, rng = self.w, self.rng
        count = user_count(w.parties)
        slots = self.take_old(count) or [self.take_any() for _ in range(count)]
        for i, slot in enumerate(sorted(slots)):
            p = Profile("normal", "missing", "work", "mobile_local", "none")
            party = self.make_person(slot, p, None, staff=True)
            uid = USER_ID_BASE + 44 + i * 7
            state = rng.choice(("NSW", "NSW", "VIC", "QLD", "WA", "SA"))
            user = capsule.user(
                id=uid,
                username=f"{party['_ascii'][0]}.{party['_ascii'][1]}",
                name=f"{party['firstName']} {party['lastName']}",
                party=party,
                timezone=TIMEZONES[state],
                last_login=iso(self.between(w.now - 30 * DAY, w.now)),
            )
            w.users.append(user)
            w.user_refs.append(capsule.user_ref(user))
            w.user_teams.append(w.teams[i % len(w.teams)] if i % 4 != 3 else None)
            w.user_weights.append(rng.choice((1, 2, 3, 5, 8)))
            self.pend(party["id"], "staff_party")
            self.live(party)
        for party in self.parties:  # staff are owned by the first user (the account admin)
            party["owner"] = w.user_refs[0]
            party["team"] = w.user_teams[0]
        w.user_cum_weights = list(itertools.accumulate(w.user_weights))
        self.build_xero_users()
        w.make_groups()

    def build_xero_users(self) -> None:
        w, rng = self.w, self.rng
        roles = ("STANDARD", "STANDARD", "STANDARD", "READONLY", "INVOICEONLY")
        for i, user in enumerate(w.users):
            party = next(p for p in self.parties if p["id"] == user["party"]["id"])
            last = i == len(w.users) - 1 and i > 0
            if last or (i > 1 and rng.random() >= 0.6):
                self.mark("owner_without_xero_user", user["id"])
                continue
            email = party["emailAddresses"][0]["address"]
            differs = i % 3 == 1  # user 1 always: the same address in another case
            if differs:
                local, domain = email.split("@")
                email = (
                    ".".join(part.capitalize() for part in local.split("."))
                    + "@"
                    + domain.replace("southerncrosstrade", "SouthernCrossTrade")
                )
            xuser = self.xero_user(
                party["firstName"], party["lastName"], email, roles[i % len(roles)], i == 0
            )
            self.mark("owner_matched_xero_user", (user["id"], xuser["UserID"]))
            if differs:
                self.mark("owner_email_case_differs", (user["id"], xuser["UserID"]))
        extra = (
            ("Helen", "Barker", "helen@ledgerlanebookkeeping.com.au", "FINANCIALADVISER"),
            ("Greg", "Sutherland", "greg.sutherland.sct@gmail.com", "STANDARD"),
            ("Accounts", "Team", f"accounts@{capsule.BUSINESS_DOMAIN}", "STANDARD"),
        )
        for first, last, email, role in extra:
            xuser = self.xero_user(first, last, email, role, False)
            self.mark("xero_user_without_capsule_user", xuser["UserID"])

    def xero_user(self, first: str, last: str, email: str, role: str, subscriber: bool) -> Record:
        record = {
            "UserID": self.guid(),
            "EmailAddress": email,
            "FirstName": first,
            "LastName": last,
            "UpdatedDateUTC": self.xero_time(self.w.t0, self.w.now - DAY),
            "IsSubscriber": subscriber,
            "OrganisationRole": role,
        }
        self.w.xero_users.append(record)
        return record

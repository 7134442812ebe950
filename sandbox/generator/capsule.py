"""Capsule API v2 records, shaped exactly like ``specs/capsule/examples`` (same keys, same key order).

Account-level objects (field definitions, tags, teams, milestones) are fixed; ids follow the examples
where the examples have them (ABN = definition 812301, Trade Account = tag 98001 ...).
"""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]

ORG_PICTURE = "https://capsulecrm.com/theme/default/images/org_avatar_70.png"
PERSON_PICTURE = "https://facehub.appspot.com/default/person?text={initials}&size=100"

SITE = {
    "url": "https://southerncross.capsulecrm.com",
    "subdomain": "southerncross",
    "name": "Southern Cross Trade Supplies",
}
# The business that owns the Capsule account: its staff (the users) have e-mail at this domain.
BUSINESS_DOMAIN = "southerncrosstrade.com.au"

# --- tags -------------------------------------------------------------------------------------------
TAGS: tuple[Record, ...] = (
    {
        "id": 98001,
        "name": "Trade Account",
        "description": "Approved for 30-day trade credit",
        "dataTag": True,
    },
    {"id": 98002, "name": "Wholesale", "dataTag": False},
    {"id": 98003, "name": "Newsletter", "dataTag": False},
    {"id": 98004, "name": "Customer", "dataTag": False},
    {"id": 98005, "name": "Supplier", "dataTag": False},
    {"id": 98006, "name": "VIP", "description": "Key accounts: owner calls personally", "dataTag": False},
    {"id": 98007, "name": "Prospect", "dataTag": False},
    {"id": 98008, "name": "Staff", "description": "Our own people (Capsule users)", "dataTag": False},
)
# Nested tag refs as parties carry them ({id,name,dataTag}); shared, read-only.
TAG_REFS: dict[str, Record] = {
    t["name"]: {"id": t["id"], "name": t["name"], "dataTag": t["dataTag"]} for t in TAGS
}
# Tags an earlier sync turned into Xero contact groups of the same name.
GROUP_TAGS: tuple[str, ...] = ("Customer", "Supplier", "Wholesale", "VIP")

# --- custom field definitions (GET /parties/fields/definitions) --------------------------------------
DEF_ABN = 812301
DEF_XERO_ID = 812302
DEF_PAYMENT_TERMS = 812303
DEF_INDUSTRY = 812304
DEF_GST = 812305
DEF_CUSTOMER_SINCE = 812306
DEF_CREDIT_LIMIT = 812307
DEF_NEWSLETTER = 812308


def party_field_definitions(industries: tuple[str, ...]) -> list[Record]:
    return [
        {
            "id": DEF_ABN,
            "type": "text",
            "displayOrder": 1,
            "name": "ABN",
            "description": "Australian Business Number, 11 digits grouped 2-3-3-3",
            "important": True,
            "captureRule": "organisation",
        },
        {
            # No captureRule (unlike the example): people without an organisation become Xero contacts
            # too, and the writer stores their ContactID here as well.
            "id": DEF_XERO_ID,
            "type": "text",
            "displayOrder": 2,
            "name": "Xero Contact ID",
            "description": "Written by the Xero sync; do not edit by hand",
            "important": False,
        },
        {
            "id": DEF_PAYMENT_TERMS,
            "type": "number",
            "displayOrder": 3,
            "name": "Payment Terms (days)",
            "important": False,
            "captureRule": "organisation",
        },
        {
            "id": DEF_INDUSTRY,
            "type": "list",
            "displayOrder": 4,
            "name": "Industry",
            "important": False,
            "captureRule": "organisation",
            "options": list(industries),
        },
        {
            "id": DEF_GST,
            "type": "boolean",
            "displayOrder": 5,
            "name": "GST Registered",
            "important": False,
            "captureRule": "organisation",
        },
        {
            "id": DEF_CUSTOMER_SINCE,
            "type": "date",
            "displayOrder": 6,
            "name": "Customer Since",
            "important": False,
        },
        {
            "id": DEF_NEWSLETTER,
            "type": "boolean",
            "displayOrder": 7,
            "name": "Newsletter Opt-in",
            "important": False,
            "captureRule": "person",
        },
        {
            "id": DEF_CREDIT_LIMIT,
            "type": "number",
            "displayOrder": 1,
            "name": "Credit Limit",
            "important": False,
            "tag": dict(TAG_REFS["Trade Account"]),
        },
    ]


DEF_REFS: dict[int, Record] = {
    DEF_ABN: {"id": DEF_ABN, "name": "ABN"},
    DEF_XERO_ID: {"id": DEF_XERO_ID, "name": "Xero Contact ID"},
    DEF_PAYMENT_TERMS: {"id": DEF_PAYMENT_TERMS, "name": "Payment Terms (days)"},
    DEF_INDUSTRY: {"id": DEF_INDUSTRY, "name": "Industry"},
    DEF_GST: {"id": DEF_GST, "name": "GST Registered"},
    DEF_CUSTOMER_SINCE: {"id": DEF_CUSTOMER_SINCE, "name": "Customer Since"},
    DEF_CREDIT_LIMIT: {"id": DEF_CREDIT_LIMIT, "name": "Credit Limit"},
    DEF_NEWSLETTER: {"id": DEF_NEWSLETTER, "name": "Newsletter Opt-in"},
}

OPPORTUNITY_FIELD_DEFINITIONS: list[Record] = [
    {"id": 913001, "type": "text", "displayOrder": 1, "name": "Quote Number", "important": False},
    # Where the billing sync writes the Xero quote or invoice it drafted for a won opportunity.
    {"id": 913002, "type": "text", "displayOrder": 2, "name": "Xero document", "important": False},
]
KASE_FIELD_DEFINITIONS: list[Record] = [
    {"id": 925004, "type": "text", "displayOrder": 1, "name": "Site Contact", "important": False}
]
QUOTE_REF = {"id": 913001, "name": "Quote Number"}
SITE_CONTACT_REF = {"id": 925004, "name": "Site Contact"}

# --- teams, milestones, task categories ----------------------------------------------------------------
TEAMS: tuple[Record, ...] = (
    {"id": 5521, "name": "NSW Sales"},
    {"id": 5522, "name": "VIC & TAS Sales"},
    {"id": 5523, "name": "QLD Sales"},
    {"id": 5524, "name": "Key Accounts"},
    {"id": 5525, "name": "Wholesale"},
)
MILESTONES: tuple[Record, ...] = (
    {
        "id": 40110,
        "name": "New",
        "description": "Fresh lead",
        "probability": 10,
        "complete": False,
        "daysUntilStale": 14,
        "pipeline": {"id": 3101, "name": "Sales"},
    },
    {
        "id": 40111,
        "name": "Qualified",
        "description": None,
        "probability": 25,
        "complete": False,
        "daysUntilStale": 21,
        "pipeline": {"id": 3101, "name": "Sales"},
    },
    {
        "id": 40112,
        "name": "Proposal",
        "description": "Quote sent",
        "probability": 60,
        "complete": False,
        "daysUntilStale": 30,
        "pipeline": {"id": 3101, "name": "Sales"},
    },
    {
        "id": 40113,
        "name": "Negotiation",
        "description": None,
        "probability": 80,
        "complete": False,
        "daysUntilStale": 30,
        "pipeline": {"id": 3101, "name": "Sales"},
    },
    {
        "id": 40114,
        "name": "Won",
        "description": None,
        "probability": 100,
        "complete": True,
        "daysUntilStale": None,
        "pipeline": {"id": 3101, "name": "Sales"},
    },
    {
        "id": 40115,
        "name": "Lost",
        "description": None,
        "probability": 0,
        "complete": True,
        "daysUntilStale": None,
        "pipeline": {"id": 3101, "name": "Sales"},
    },
)
OPEN_MILESTONES = MILESTONES[:4]
TASK_CATEGORIES: tuple[Record, ...] = (
    {"id": 47211, "name": "Follow-up", "colour": "#2f80ed"},
    {"id": 47212, "name": "Call", "colour": "#27ae60"},
    {"id": 47213, "name": "Email", "colour": "#f2994a"},
    {"id": 47214, "name": "Meeting", "colour": "#9b51e0"},
)
KASE_STAGES: tuple[Record, ...] = (
    {"name": "Not Started", "id": 271119},
    {"name": "In Progress", "id": 271120},
    {"name": "Waiting on Customer", "id": 271121},
    {"name": "Done", "id": 271122},
)


# --- records ---------------------------------------------------------------------------------------------
def initials(first: str | None, last: str | None) -> str:
    return ((first or "")[:1] + (last or "")[:1]).upper() or "?"


def user_ref(user: Record) -> Record:
    """The nested user (owner) as parties, opportunities, kases and tasks carry it."""
    return {
        "id": user["id"],
        "deleted": False,
        "username": user["username"],
        "pictureURL": user["party"]["pictureURL"],
        "name": user["name"],
    }


def party_ref(party: Record) -> Record:
    """A nested party as opportunities, kases and tasks carry it."""
    if party["type"] == "organisation":
        return {"id": party["id"], "type": "organisation", "name": party["name"], "pictureURL": ORG_PICTURE}
    return {
        "id": party["id"],
        "type": "person",
        "firstName": party["firstName"],
        "lastName": party["lastName"],
        "pictureURL": party["pictureURL"],
    }


def org_ref(org: Record) -> Record:
    """The nested ``organisation`` of a person."""
    return {"id": org["id"], "type": "organisation", "name": org["name"], "pictureURL": ORG_PICTURE}


def organisation(
    *,
    id: int,
    owner: Record | None,
    team: Record | None,
    about: str | None,
    name: str,
    created: str,
    updated: str,
    last_contacted: str | None,
    phones: list[Record],
    addresses: list[Record],
    emails: list[Record],
    websites: list[Record],
    tags: list[Record],
    fields: list[Record],
) -> Record:
    return {
        "id": id,
        "owner": owner,
        "team": team,
        "type": "organisation",
        "about": about,
        "name": name,
        "createdAt": created,
        "updatedAt": updated,
        "lastContactedAt": last_contacted,
        "pictureURL": ORG_PICTURE,
        "enrichment": None,
        "phoneNumbers": phones,
        "addresses": addresses,
        "emailAddresses": emails,
        "websites": websites,
        "tags": tags,
        "fields": fields,
        "missingImportantFields": not any(f["definition"]["id"] == DEF_ABN for f in fields),
    }


def person(
    *,
    id: int,
    owner: Record | None,
    team: Record | None,
    about: str | None,
    title: str | None,
    first: str,
    last: str,
    job_title: str | None,
    created: str,
    updated: str,
    org: Record | None,
    last_contacted: str | None,
    phones: list[Record],
    addresses: list[Record],
    emails: list[Record],
    websites: list[Record],
    tags: list[Record],
    fields: list[Record],
) -> Record:
    return {
        "id": id,
        "owner": owner,
        "team": team,
        "type": "person",
        "about": about,
        "title": title,
        "firstName": first,
        "lastName": last,
        "jobTitle": job_title,
        "createdAt": created,
        "updatedAt": updated,
        "organisation": org_ref(org) if org is not None else None,
        "lastContactedAt": last_contacted,
        "pictureURL": PERSON_PICTURE.format(initials=initials(first, last)),
        "enrichment": None,
        "phoneNumbers": phones,
        "addresses": addresses,
        "emailAddresses": emails,
        "websites": websites,
        "tags": tags,
        "fields": fields,
        "missingImportantFields": False,  # no important field applies to people
    }


def user(*, id: int, username: str, name: str, party: Record, timezone: str, last_login: str) -> Record:
    """A user as ``GET /users`` returns it (no e-mail: that lives on the user's own party)."""
    return {
        "id": id,
        "locale": "en_GB",
        "currency": "AUD",
        "status": "ACTIVE",
        "party": {
            "id": party["id"],
            "type": "person",
            "firstName": party["firstName"],
            "lastName": party["lastName"],
            "pictureURL": party["pictureURL"],
        },
        "username": username,
        "timezone": timezone,
        "lastLoginAt": last_login,
        "name": name,
        "taskReminder": id % 2 == 0,
    }

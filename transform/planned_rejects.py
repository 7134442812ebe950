"""Row rules for planned writes (pandera): a row Xero would refuse goes to ``reconcile.planned_rejects``.

The preflight (transform/sql/reconcile/preflight_problems.sql) settles these before planning; this is
the last guard before anything is sent, so a model bug becomes a held-back row with a reason instead
of a batch Xero refuses. One rule per thing Xero states it refuses, each reject naming its rule and
field (docs/api-facts.md#xero-contact-fields-and-limits).
"""

import json
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa

from transform.quarantine import rule_check, typed_when_empty, visible

# Xero's limits on what a contact write may carry (docs/api-facts.md#xero-contact-fields-and-limits;
# Xero's OpenAPI xero_accounting.yaml, Contact).
SENT_OPERATIONS = ("create", "update", "archive", "restore")
_SENT_LIMITS = {
    "name": 255,
    "first_name": 255,
    "last_name": 255,
    "email_address": 255,
    "contact_number": 50,
    "phone_default": 50,
    "phone_mobile": 50,
    "phone_fax": 50,
}
_ABN_DIGITS = r"^[0-9]{11}$"
# Scalar text fields a write may carry (Website is read-only on the API and never sent).
_SENT_TEXT = [*_SENT_LIMITS, "tax_number"]
_ADDRESS_FIELDS = ("street_address", "postal_address")
# C0 and C1 controls: Xero states no rule for them; they reach it as they are (NUL, ESC) and the
# stand-in refuses them, the stricter reading (normalise.clean_text removes them before this).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Address.Country: "max length = 50, [A-Z], [a-z] only" (xero_accounting.yaml). Single spaces between
# words are allowed (Xero's own country names have them: "New Zealand").
_COUNTRY_RE = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*")
_ADDRESS_LIMITS = {"city": 255, "region": 255, "postal_code": 50, "country": 50}


# normalise.email's answer for an address already in its canonical form: lower-case ASCII, a local
# part of dot-separated runs, one "@", a host of labels and a top-level domain, at most 254
# characters. An address sent equals normalise.email(address) exactly when it matches this
# (tests/transform/test_validation.py), which pandas tests for a whole column at once.
CANONICAL_EMAIL = (
    r"(?=.{1,254}$)[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)
# JSON text (an address, the contact persons) worth parsing for the exact rules: an escape or a C1
# control (to_json spells C0 controls as \u00XX), 51 characters without a quote (the shortest limit
# inside is 50; JSON's own punctuation between strings is shorter), a fifth address line, a country that is not letters, or an e-mail that is not
# canonical. Every other value passes them all, so a million planned rows are not parsed one by one.
_SUSPICIOUS_JSON = re.compile(
    r'[\\\x7f-\x9f]|[^"]{51}|"lines":\s*\[(?:\s*"[^"]*",){4}'
    r'|"country":\s*"(?![A-Za-z]+(?: [A-Za-z]+)*")'
    rf'|"email_address":\s*"(?!{CANONICAL_EMAIL[len("(?=.{1,254}$)") :]}")'
)


def _fits(limit: int) -> Any:
    return lambda s: s.isna() | (s.astype("string").str.len() <= limit)


def _matches(pattern: str) -> Any:
    """Null, or the whole value matches ``pattern`` (vectorised)."""
    return lambda s: s.isna() | s.astype("string").str.fullmatch(pattern).fillna(False).astype(bool)


def _lacks(pattern: str) -> Any:
    """Null, or ``pattern`` occurs nowhere in the value (vectorised)."""
    return lambda s: ~s.astype("string").str.contains(pattern, regex=True).fillna(False).astype(bool)


def _json_rule(test: Any) -> Any:
    """``test`` (on the parsed value) for the JSON texts _SUSPICIOUS_JSON flags; the others pass."""

    def check(s: pd.Series) -> pd.Series:
        text = s.astype("string")
        flagged = text.str.contains(_SUSPICIOUS_JSON, regex=True).fillna(False).astype(bool)
        result = pd.Series(True, index=s.index)
        if flagged.any():
            result[flagged] = [test(json.loads(value)) for value in s[flagged]]
        return result

    return check


def _no_controls(value: str) -> bool:
    return not _CONTROL_RE.search(value)


def _email_ok(value: str) -> bool:
    return re.fullmatch(CANONICAL_EMAIL, value) is not None


def _at_most_five_persons(s: pd.Series) -> pd.Series:
    return s.map(lambda v: v is None or (isinstance(v, str) and len(json.loads(v)) <= 5))


def _persons_fit(persons: list[dict[str, Any]]) -> bool:
    """Every ContactPerson's names within 255 and without controls, and its e-mail valid
    (docs/api-facts.md#xero-errors, docs/api-facts.md#xero-contact-fields-and-limits)."""
    for person in persons:
        for key in ("first_name", "last_name", "email_address"):
            text = person.get(key)
            if text is None:
                continue
            if len(text) > 255 or not _no_controls(text):
                return False
            if key == "email_address" and not _email_ok(text):
                return False
    return True


def _address_fits(address: dict[str, Any]) -> bool:
    """Address lines within 500, city and region 255, postcode 50, country 50 letters
    (docs/api-facts.md#xero-contact-fields-and-limits)."""
    lines = address.get("lines") or []
    if len(lines) > 4 or any(len(line) > 500 or not _no_controls(line) for line in lines):
        return False
    for key, limit in _ADDRESS_LIMITS.items():
        text = address.get(key)
        if text is not None and (len(text) > limit or not _no_controls(text)):
            return False
    country = address.get("country")
    return country is None or bool(_COUNTRY_RE.fullmatch(country))


def _text_checks(field: str) -> list[pa.Check]:
    checks = [rule_check(f"{field}_has_no_control_characters", _lacks(_CONTROL_RE.pattern))]
    if field in _SENT_LIMITS:
        checks.insert(0, rule_check(f"{field}_fits_xero", _fits(_SENT_LIMITS[field])))
    if field == "name":
        # Reported invalid in a Name, not documented (docs/api-facts.md#xero-contact-fields-and-limits):
        # refused here, the stricter reading.
        checks.append(rule_check("name_has_no_angle_brackets", _lacks("[<>]")))
        checks.append(rule_check("name_has_no_outer_or_repeated_spaces", _lacks("^ | $|  ")))
    if field == "email_address":
        checks.append(rule_check("email_address_is_valid", _matches(CANONICAL_EMAIL)))
    if field == "tax_number":
        checks.append(rule_check("tax_number_is_an_abn", lambda s: s.isna() | s.str.match(_ABN_DIGITS)))
    return checks


PLANNED_OPERATION = pa.DataFrameSchema(
    {
        "operation": pa.Column(str, pa.Check.isin(SENT_OPERATIONS)),
        "party_id": pa.Column("int64"),
        "contact_id": pa.Column(str, nullable=True),
        "contact_persons": pa.Column(
            str,
            [
                rule_check("contact_persons_at_most_five", _at_most_five_persons),
                rule_check("contact_persons_fit_xero", _json_rule(_persons_fit)),
            ],
            nullable=True,
        ),
        **{
            field: pa.Column(str, rule_check(f"{field}_fits_xero", _json_rule(_address_fits)), nullable=True)
            for field in _ADDRESS_FIELDS
        },
        **{field: pa.Column(str, _text_checks(field), nullable=True) for field in _SENT_TEXT},
    },
    checks=[
        # A create names a contact Xero has not got; every other write names the one it changes.
        pa.Check(
            lambda df: (df["operation"] == "create") == df["contact_id"].isna(),
            name="target_matches_operation",
        ),
        pa.Check(
            lambda df: (df["operation"] != "create") | df["name"].notna(),
            name="create_has_a_name",
        ),
    ],
    strict=False,
    coerce=False,
)
# The rule each planned-row check breaks, and the column whose value the reject row shows.
PLANNED_RULE_FIELDS = {
    "target_matches_operation": "contact_id",
    "create_has_a_name": "name",
    "contact_persons_at_most_five": "contact_persons",
    "contact_persons_fit_xero": "contact_persons",
    **{f"{field}_fits_xero": field for field in _ADDRESS_FIELDS},
    **{check.name: field for field in _SENT_TEXT for check in _text_checks(field)},
}
PLANNED_REJECT_COLUMNS = ["party_id", "contact_id", "operation", "rule", "field", "value"]


def planned_rows(con: Any) -> pd.DataFrame:
    """The operations a plan would send (``reconcile.contact_operations``), the columns the rules read."""
    columns = ", ".join(
        ["operation", "party_id", "contact_id", *_SENT_TEXT, *_ADDRESS_FIELDS, "contact_persons"]
    )
    return con.execute(
        f"select {columns} from reconcile.contact_operations where list_contains($sent, operation)",  # noqa: S608 - our own column names
        {"sent": list(SENT_OPERATIONS)},
    ).df()


def reject_planned(planned: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """(rows Xero would refuse, schema problems) for planned operations."""
    rows: list[dict[str, Any]] = []
    drift: list[str] = []
    frame = typed_when_empty(planned, PLANNED_OPERATION).set_index(pd.RangeIndex(len(planned)))
    try:
        PLANNED_OPERATION.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        for case in errors.failure_cases.to_dict("records"):
            rule = case["check"]
            if rule not in PLANNED_RULE_FIELDS or case["index"] is None or pd.isna(case["index"]):
                drift.append(f"{case['column']}: {rule} ({case['failure_case']})")
                continue
            field = PLANNED_RULE_FIELDS[rule]
            record = frame.loc[int(case["index"])]
            value = record[field]
            rows.append(
                {
                    "party_id": int(record["party_id"]),
                    "contact_id": None if pd.isna(record["contact_id"]) else record["contact_id"],
                    "operation": record["operation"],
                    "rule": rule,
                    "field": field,
                    "value": None if pd.isna(value) else visible(str(value))[:500],
                }
            )
    rejects = pd.DataFrame(rows, columns=PLANNED_REJECT_COLUMNS).drop_duplicates(["party_id", "rule"])
    return rejects, drift


def build_planned_rejects(con: Any) -> tuple[pd.DataFrame, list[str], int]:
    """Validate the planned operations and (re)write ``reconcile.planned_rejects``; (rejects, drift, planned)."""
    planned = planned_rows(con)
    rejects, drift = reject_planned(planned)
    con.register("planned_reject_rows", rejects)
    try:
        con.execute(
            "create or replace table reconcile.planned_rejects as select cast(party_id as bigint) as party_id,"
            " cast(contact_id as varchar) as contact_id, cast(operation as varchar) as operation,"
            " cast(rule as varchar) as rule, cast(field as varchar) as field, cast(value as varchar) as value"
            " from planned_reject_rows"
        )
    finally:
        con.unregister("planned_reject_rows")
    return rejects, drift, len(planned)


# ------------------------------------------------------------------------------- the run's verdict


@dataclass(frozen=True)
class RejectShare:
    """How many of the records one row check judged it rejected, against ``validation.max_reject_share``
    (the same shares the blocking Dagster checks compute: assets/checks.py)."""

    rejected: int
    total: int
    limit: float
    records: str  # what was judged, e.g. "Capsule parties"
    broke: str  # what the rejected ones did
    report: str  # the report that lists them

    @property
    def share(self) -> float:
        return self.rejected / self.total if self.total else 0.0

    @property
    def passed(self) -> bool:
        return self.share <= self.limit

    def message(self) -> str:
        return (
            f"{self.share:.1%} of {self.records} ({self.rejected:,} of {self.total:,}) {self.broke}, more than"
            f" validation.max_reject_share ({self.limit:.1%}) allows: nothing was planned or written."
            f" `capsule-xero report {self.report}` lists them; fix them in Capsule (or raise the limit in"
            " the rules file) and sync again."
        )


def reject_shares(con: Any, limit: float) -> list[RejectShare]:
    """The two shares a run is judged by, from the tables the reconcile just built: quarantined live
    parties (``staging.quarantine``) and planned writes held back (``reconcile.planned_rejects``)."""
    ((quarantined, parties),) = con.execute(
        "select (select count(distinct record_id) from staging.quarantine where source = 'capsule'),"
        " (select count(*) from staging.capsule_parties where not is_deleted)"
    ).fetchall()
    ((held_back, planned),) = con.execute(
        "select (select count(distinct party_id) from reconcile.planned_rejects),"
        " (select count(*) from reconcile.contact_operations where list_contains($sent, operation))",
        {"sent": list(SENT_OPERATIONS)},
    ).fetchall()
    return [
        RejectShare(quarantined, parties, limit, "Capsule parties", "break a data rule", "quarantine"),
        RejectShare(held_back, planned, limit, "planned writes", "break a rule Xero states", "review_queue"),
    ]

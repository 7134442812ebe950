"""Row rules for staged Capsule parties (pandera): breaking rows go to ``staging.quarantine``.

A row that breaks a rule is quarantined with the rule, the field and the value, and the other
rows go on. The blocking check fails a run only on schema drift (a staged column missing or of
another type) or when the share of quarantined parties passes the rules file's
``validation.max_reject_share``.
"""

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa

XERO_NAME_LIMIT = 255  # FACTS §5: Name ≤ 255

# What each rule checks, the Capsule field a person fixes, and the staged column holding the value.
RULES: dict[str, tuple[str, str]] = {
    "abn_valid": ("ABN", "abn_raw"),
    "email_valid": ("emailAddresses", "first_bad_email"),
    "phone_valid": ("phoneNumbers", "first_bad_phone"),
    "name_present": ("name", "name_as_typed"),
    "name_fits_xero": ("name", "display_name"),
}
# What a broken rule costs the sync. A bad value is simply not sent (the normalisers already drop it):
# the next valid one is used, else Xero's field is left as it is, never cleared (the diff reads the
# field as Xero's, reconcile/mapped_contacts.sql: quarantined_fields). A party without a usable Name
# cannot become a Xero contact at all, so it is held back whole.
EFFECTS = {
    "abn_valid": "ABN not sent: TaxNumber left as Xero has it",
    "email_valid": "address not sent: the next valid one is used, else the e-mail is left as Xero has it",
    "phone_valid": "number not sent: the next valid one of its kind is used, else the phone is left as Xero has it",
    "name_present": "party held back",
    "name_fits_xero": "party held back",
}
HELD_BACK_RULES = ("name_present", "name_fits_xero")
QUARANTINE_COLUMNS = ["source", "record_id", "rule", "field", "value", "detail", "effect"]


def _rule(name: str, test: Any, *, ignore_na: bool = True) -> pa.Check:
    return pa.Check(test, name=name, ignore_na=ignore_na)


STAGED_PARTY = pa.DataFrameSchema(
    {
        "party_id": pa.Column("int64", unique=True),
        "party_type": pa.Column(str, pa.Check.isin(["person", "organisation"])),
        "display_name": pa.Column(
            str,
            [
                # A name left empty by cleaning is null: the check must see nulls (pandera skips them).
                _rule("name_present", lambda s: s.fillna("").str.strip() != "", ignore_na=False),
                _rule("name_fits_xero", lambda s: s.fillna("").str.len() <= XERO_NAME_LIMIT),
            ],
            nullable=True,
        ),
        "abn_problem": pa.Column(str, _rule("abn_valid", lambda s: s.isna()), nullable=True),
        "bad_emails": pa.Column("int64", _rule("email_valid", lambda s: s == 0)),
        "bad_phones": pa.Column("int64", _rule("phone_valid", lambda s: s == 0)),
        "name_as_typed": pa.Column(str, nullable=True),
        "abn_raw": pa.Column(str, nullable=True),
        "first_bad_email": pa.Column(str, nullable=True),
        "first_bad_phone": pa.Column(str, nullable=True),
        "updated_at": pa.Column(nullable=True),
    },
    strict=False,  # staging may grow columns; only these are relied on
    coerce=False,
)


def _typed_when_empty(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """An empty result keeps the schema's dtypes: DuckDB hands back VARCHAR as ``object`` when no rows
    came, so an idle sync (nothing planned) would otherwise fail its check as schema drift."""
    if len(frame):
        return frame
    dtypes = {
        column: str(dtype)
        for column, dtype in schema.dtypes.items()
        if column in frame.columns and frame[column].dtype == object and str(dtype) != "None"
    }
    return frame.astype(dtypes)


def quarantine(parties: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """(quarantine rows, schema problems). Row failures become rows; structural failures are drift."""
    frame = _typed_when_empty(parties, STAGED_PARTY).set_index(pd.RangeIndex(len(parties)))
    try:
        STAGED_PARTY.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS), []
    # Column-wise rather than one lookup per failure: at a million parties the loop cost seconds.
    is_row = cases["check"].isin(list(RULES)) & cases["index"].notna()
    drift = [f"{c['column']}: {c['check']} ({c['failure_case']})" for c in cases[~is_row].to_dict("records")]
    rules = cases.loc[is_row, "check"].to_numpy()
    picked = frame.iloc[cases.loc[is_row, "index"].astype("int64").to_numpy()]
    values_by_column = {column: picked[column].to_numpy(dtype=object) for _, column in RULES.values()}
    values = [values_by_column[RULES[rule][1]][i] for i, rule in enumerate(rules)]
    abn_problems = picked["abn_problem"].to_numpy(dtype=object)
    details = [
        problem if rule == "abn_valid" else _name_detail(value) if rule == "name_present" else None
        for problem, rule, value in zip(abn_problems, rules, values, strict=True)
    ]
    rows = pd.DataFrame(
        {
            "source": "capsule",
            "record_id": picked["party_id"].astype("int64").astype(str).to_numpy(),
            "rule": rules,
            "field": [RULES[rule][0] for rule in rules],
            "value": [None if pd.isna(value) else visible(str(value))[:500] for value in values],
            "detail": details,
            "effect": [EFFECTS[rule] for rule in rules],
        },
        columns=QUARANTINE_COLUMNS,
    )
    return rows, drift


def _invisible(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") or (char.isspace() and char != " ")


def visible(value: str) -> str:
    """``value`` with every control, format or non-space whitespace character spelled as ``\\uXXXX``:
    a quarantined name of zero-width characters or terminal escapes is shown, never rendered."""
    return "".join(f"\\u{ord(char):04x}" if _invisible(char) else char for char in value)


def _name_detail(value: Any) -> str | None:
    """Why a typed name is no usable name: blank, or nothing left after cleaning (normalise.clean_name)."""
    if not isinstance(value, str) or not value.strip():
        return "no name typed"
    return "only invisible or control characters (nothing a reader would see in Xero)"


def staged_parties(con: Any) -> pd.DataFrame:
    """The live staged parties, only the columns the rules read (the list and map columns cost
    seconds per million rows in pandas for nothing). A missing column is left for pandera to
    report as drift; tombstones are not validated (they are only ever archived)."""
    present = {
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'staging' and table_name = 'capsule_parties'"
        ).fetchall()
    }
    columns = ", ".join(f'"{c}"' for c in STAGED_PARTY.columns if c in present)
    live = "where not is_deleted" if "is_deleted" in present else ""
    return con.sql(f"select {columns} from staging.capsule_parties {live}").df()  # noqa: S608 - our own column names


def build_quarantine(con: Any) -> tuple[pd.DataFrame, list[str]]:
    """Validate ``staging.capsule_parties`` and (re)write ``staging.quarantine``; return (rows, drift)."""
    rows, drift = quarantine(staged_parties(con))
    con.register("quarantine_rows", rows)
    try:
        casts = ", ".join(f"cast({column} as varchar) as {column}" for column in QUARANTINE_COLUMNS)
        con.execute(f"create or replace table staging.quarantine as select {casts} from quarantine_rows")  # noqa: S608 - our own column names
    finally:
        con.unregister("quarantine_rows")
    return rows, drift


# ----------------------------------------------------------------------------------- planned rows

# Xero's limits on what a contact write may carry (specs/xero/FACTS.md §5; xero_accounting.yaml,
# Contact). The preflight settles these before planning; this is the last guard before anything is
# sent, so a model bug becomes a held-back row with a reason instead of a batch Xero refuses.
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
    """Every ContactPerson's names within 255 and without controls, and its e-mail valid (FACTS §4, §5)."""
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
    """Address lines within 500, city and region 255, postcode 50, country 50 letters (FACTS §5)."""
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
    checks = [_rule(f"{field}_has_no_control_characters", _lacks(_CONTROL_RE.pattern))]
    if field in _SENT_LIMITS:
        checks.insert(0, _rule(f"{field}_fits_xero", _fits(_SENT_LIMITS[field])))
    if field == "name":
        # Reported invalid in a Name (FACTS §5 [obs][?]): refused here, the stricter reading.
        checks.append(_rule("name_has_no_angle_brackets", _lacks("[<>]")))
        checks.append(_rule("name_has_no_outer_or_repeated_spaces", _lacks("^ | $|  ")))
    if field == "email_address":
        checks.append(_rule("email_address_is_valid", _matches(CANONICAL_EMAIL)))
    if field == "tax_number":
        checks.append(_rule("tax_number_is_an_abn", lambda s: s.isna() | s.str.match(_ABN_DIGITS)))
    return checks


PLANNED_OPERATION = pa.DataFrameSchema(
    {
        "operation": pa.Column(str, pa.Check.isin(SENT_OPERATIONS)),
        "party_id": pa.Column("int64"),
        "contact_id": pa.Column(str, nullable=True),
        "contact_persons": pa.Column(
            str,
            [
                _rule("contact_persons_at_most_five", _at_most_five_persons),
                _rule("contact_persons_fit_xero", _json_rule(_persons_fit)),
            ],
            nullable=True,
        ),
        **{
            field: pa.Column(str, _rule(f"{field}_fits_xero", _json_rule(_address_fits)), nullable=True)
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
    frame = _typed_when_empty(planned, PLANNED_OPERATION).set_index(pd.RangeIndex(len(planned)))
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
    (the same shares the blocking Dagster checks compute: assets/staging.py, assets/reconciling.py)."""

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

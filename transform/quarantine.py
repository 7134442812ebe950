"""Row rules for staged Capsule parties (pandera): breaking rows go to ``staging.quarantine``.

A row that breaks a rule is quarantined with the rule, the field and the value, and the other
rows go on. The blocking check fails a run only on schema drift (a staged column missing or of
another type) or when the share of quarantined parties passes the rules file's
``validation.max_reject_share``.
"""

import unicodedata
from typing import Any

import pandas as pd
import pandera.pandas as pa

XERO_NAME_LIMIT = 255  # Name ≤ 255 (docs/api-facts.md#xero-contact-fields-and-limits)

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


def rule_check(name: str, test: Any, *, ignore_na: bool = True) -> pa.Check:
    """A pandera check named after the rule a quarantine or reject row shows."""
    return pa.Check(test, name=name, ignore_na=ignore_na)


STAGED_PARTY = pa.DataFrameSchema(
    {
        "party_id": pa.Column("int64", unique=True),
        "party_type": pa.Column(str, pa.Check.isin(["person", "organisation"])),
        "display_name": pa.Column(
            str,
            [
                # A name left empty by cleaning is null: the check must see nulls (pandera skips them).
                rule_check("name_present", lambda s: s.fillna("").str.strip() != "", ignore_na=False),
                rule_check("name_fits_xero", lambda s: s.fillna("").str.len() <= XERO_NAME_LIMIT),
            ],
            nullable=True,
        ),
        "abn_problem": pa.Column(str, rule_check("abn_valid", lambda s: s.isna()), nullable=True),
        "bad_emails": pa.Column("int64", rule_check("email_valid", lambda s: s == 0)),
        "bad_phones": pa.Column("int64", rule_check("phone_valid", lambda s: s == 0)),
        "name_as_typed": pa.Column(str, nullable=True),
        "abn_raw": pa.Column(str, nullable=True),
        "first_bad_email": pa.Column(str, nullable=True),
        "first_bad_phone": pa.Column(str, nullable=True),
        "updated_at": pa.Column(nullable=True),
    },
    strict=False,  # staging may grow columns; only these are relied on
    coerce=False,
)


def typed_when_empty(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
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
    frame = typed_when_empty(parties, STAGED_PARTY).set_index(pd.RangeIndex(len(parties)))
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

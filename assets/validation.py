"""Row rules for staged Capsule parties (pandera): breaking rows go to ``staging.quarantine``.

A row that breaks a rule is quarantined with the rule, the field and the value, and the other
rows go on. The blocking check fails a run only on schema drift (a staged column missing or of
another type) or when the share of quarantined parties passes ``MAX_REJECT_SHARE``.
"""

from typing import Any

import pandas as pd
import pandera.pandas as pa

MAX_REJECT_SHARE = 0.2  # the rules file will make this configurable
XERO_NAME_LIMIT = 255  # FACTS §5: Name ≤ 255

# What each rule checks, the Capsule field a person fixes, and the staged column holding the value.
RULES: dict[str, tuple[str, str]] = {
    "abn_valid": ("ABN", "abn_raw"),
    "email_valid": ("emailAddresses", "first_bad_email"),
    "phone_valid": ("phoneNumbers", "first_bad_phone"),
    "name_present": ("name", "display_name"),
    "name_fits_xero": ("name", "display_name"),
}
# What a broken rule costs the sync. A bad value is simply not sent (the normalisers already drop it);
# a party without a usable Name cannot become a Xero contact at all, so it is held back whole.
EFFECTS = {
    "abn_valid": "ABN not sent to TaxNumber",
    "email_valid": "address not sent",
    "phone_valid": "number not sent",
    "name_present": "party held back",
    "name_fits_xero": "party held back",
}
HELD_BACK_RULES = ("name_present", "name_fits_xero")
QUARANTINE_COLUMNS = ["source", "record_id", "rule", "field", "value", "detail", "effect"]


def _rule(name: str, test: Any) -> pa.Check:
    return pa.Check(test, name=name)


STAGED_PARTY = pa.DataFrameSchema(
    {
        "party_id": pa.Column("int64", unique=True),
        "party_type": pa.Column(str, pa.Check.isin(["person", "organisation"])),
        "display_name": pa.Column(
            str,
            [
                _rule("name_present", lambda s: s.fillna("").str.strip() != ""),
                _rule("name_fits_xero", lambda s: s.fillna("").str.len() <= XERO_NAME_LIMIT),
            ],
            nullable=True,
        ),
        "abn_problem": pa.Column(str, _rule("abn_valid", lambda s: s.isna()), nullable=True),
        "bad_emails": pa.Column("int64", _rule("email_valid", lambda s: s == 0)),
        "bad_phones": pa.Column("int64", _rule("phone_valid", lambda s: s == 0)),
        "abn_raw": pa.Column(str, nullable=True),
        "first_bad_email": pa.Column(str, nullable=True),
        "first_bad_phone": pa.Column(str, nullable=True),
        "updated_at": pa.Column(nullable=True),
    },
    strict=False,  # staging may grow columns; only these are relied on
    coerce=False,
)


def quarantine(parties: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """(quarantine rows, schema problems). Row failures become rows; structural failures are drift."""
    rows: list[dict[str, Any]] = []
    drift: list[str] = []
    frame = parties.set_index(pd.RangeIndex(len(parties)))
    try:
        STAGED_PARTY.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        for case in errors.failure_cases.to_dict("records"):
            rule = case["check"]
            if rule not in RULES or case["index"] is None or pd.isna(case["index"]):
                drift.append(f"{case['column']}: {rule} ({case['failure_case']})")
                continue
            field, value_column = RULES[rule]
            record = frame.loc[int(case["index"])]
            value = record[value_column]
            rows.append(
                {
                    "source": "capsule",
                    "record_id": str(record["party_id"]),
                    "rule": rule,
                    "field": field,
                    "value": None if pd.isna(value) else str(value)[:500],
                    "detail": record["abn_problem"] if rule == "abn_valid" else None,
                    "effect": EFFECTS[rule],
                }
            )
    return pd.DataFrame(rows, columns=QUARANTINE_COLUMNS), drift


def build_quarantine(con: Any) -> tuple[pd.DataFrame, list[str]]:
    """Validate ``staging.capsule_parties`` and (re)write ``staging.quarantine``; return (rows, drift)."""
    rows, drift = quarantine(con.sql("select * from staging.capsule_parties").df())
    con.register("quarantine_rows", rows)
    try:
        casts = ", ".join(f"cast({column} as varchar) as {column}" for column in QUARANTINE_COLUMNS)
        con.execute(f"create or replace table staging.quarantine as select {casts} from quarantine_rows")  # noqa: S608 - our own column names
    finally:
        con.unregister("quarantine_rows")
    return rows, drift

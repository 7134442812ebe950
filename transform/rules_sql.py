"""The rules file's filters and transforms, compiled to SQL with every user value bound.

``sync.only_if`` / ``sync.skip_if`` become ``reconcile.sync_scope`` and ``transforms`` become
``reconcile.desired_contacts`` (transform/sql/reconcile/README.md). The SQL text is assembled only from
the fixed templates below, column names only from the whitelists below, and parameter names are
generated here (``$rule_0``, ``$rule_1`` …): a tag, a field name, a value or a reason a consultant
wrote reaches DuckDB only as a bound parameter, never as SQL text.

No Dagster here: the assets call these functions with a connection.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import duckdb

from capsule_xero.rules.model import Rules
from capsule_xero.rules.scope import Condition
from capsule_xero.rules.transforms import Transform
from transform.sql import build, register_functions

SCOPE_TABLE = "reconcile.sync_scope"

# Each condition kind: the SQL that is true when it holds, over the columns of the `parties` CTE
# below; {placeholders} are filled only with generated parameter names.
CONDITION_SQL = {
    "tag": "list_has_any(tags_folded, list_transform({names}::varchar[], lambda t: lower(trim(t))))",
    "type": "list_contains({types}::varchar[], party_type)",
    "owner": "list_contains(list_transform({emails}::varchar[], lambda e: lower(trim(e))), owner_email)",
    "equals": "lower(trim(custom_fields[lower(trim({field}))])) = lower(trim({value}))",
    "in": (
        "list_contains(list_transform({values}::varchar[], lambda v: lower(trim(v))),"
        " lower(trim(custom_fields[lower(trim({field}))])))"
    ),
    "present": "coalesce(trim(custom_fields[lower(trim({field}))]), '') <> ''",
    "absent": "coalesce(trim(custom_fields[lower(trim({field}))]), '') = ''",
}

# A condition that cannot be evaluated (no owner, no such field) does not hold: coalesce to false.
SKIP_WHEN = "when coalesce({condition}, false) then {reason}"
ONLY_WHEN = "when not coalesce({condition}, false) then {reason}"
TYPE_WHEN = "when not list_contains({types}::varchar[], party_type) then 'type ' || party_type || ' not in sync.party_types'"

# Tags, custom-field names and owner e-mails are compared case-insensitively (folded once here).
SCOPE_SQL = """
create or replace table reconcile.sync_scope as
with parties as (
    select
        party_id,
        party_type,
        list_transform(coalesce(tags, []::varchar[]), lambda t: lower(trim(t))) as tags_folded,
        custom_fields,
        lower(trim(owner_email)) as owner_email
    from staging.capsule_parties
),

reasons as (
    select
        party_id,
        case
            {whens}
            else null
        end as scope_reason
    from parties
)

select party_id, scope_reason is null as in_scope, scope_reason
from reasons
"""

# Each transform op over one column ({column} is a whitelisted identifier).
TRANSFORM_SQL = {
    "trim": "trim({column})",
    "upper": "upper({column})",
    "lower": "lower({column})",
    # Capitalises each word, and each part of a hyphenated word ("smith-jones" → "Smith-Jones");
    # DuckDB has no initcap.
    "title": (
        "array_to_string(list_transform(string_split({column}, ' '), lambda w: array_to_string("
        "list_transform(string_split(w, '-'), lambda p: upper(left(p, 1)) || lower(substr(p, 2))), '-')), ' ')"
    ),
    "truncate": "left({column}, {length})",
    # replace() is literal in DuckDB (regexp_replace is the pattern one).
    "replace": "replace({column}, {find}, {with})",
    "default": "coalesce(nullif(trim({column}), ''), {value})",
    "prefix": "case when nullif(trim({column}), '') is null then {column} else {value} || {column} end",
    "suffix": "case when nullif(trim({column}), '') is null then {column} else {column} || {value} end",
}

# After the transforms each field goes back to the canonical form the diff compares
# (README "The contact shape"): null when empty, e-mail through cx_email like the current side.
# A transformed value is cleaned again as staging cleans it (transform/normalise.py): a prefix, a
# replace or a cut must not leave spaces, controls or invisible characters that Xero would keep.
CANONICAL_SQL = {
    "name": "cx_name({column})",
    "first_name": "cx_name({column})",
    "last_name": "cx_name({column})",
    "email_address": "cx_email({column})",
    "website": "cx_text({column})",
}
TRANSFORM_COLUMNS = frozenset(CANONICAL_SQL)

STEP_SQL = "select * replace ({expression} as {column}) from ({source})"
CANONICAL_STEP_SQL = "select * replace ({expressions}) from ({source})"
TABLE_SQL = "select * from {table}"
CREATE_SQL = "create or replace table {table} as {select}"

_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")


class _Binder:
    """Hands out generated parameter names for user values; the values never enter the SQL text."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"rule_{len(self.params)}"
        self.params[name] = value
        return f"${name}"


def _listed(values: list[str], joiner: str = "or") -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} {joiner} {values[-1]}"


def _condition_sql(condition: Condition, bind: _Binder) -> str:
    kind = condition.kind
    if kind == "tag":
        return CONDITION_SQL["tag"].format(names=bind(list(condition.tag or [])))
    if kind == "type":
        return CONDITION_SQL["type"].format(types=bind(list(condition.type or [])))
    if kind == "owner":
        return CONDITION_SQL["owner"].format(emails=bind(list(condition.owner or [])))
    field = bind(condition.field)
    test = condition.field_test
    if test == "equals":
        return CONDITION_SQL["equals"].format(field=field, value=bind(condition.equals))
    if test == "in":
        return CONDITION_SQL["in"].format(field=field, values=bind(list(condition.in_ or [])))
    return CONDITION_SQL["present" if condition.present else "absent"].format(field=field)


def describe(condition: Condition, holds: bool) -> str:
    """The condition in a consultant's words, as it holds (``holds``) or fails."""
    kind = condition.kind
    if kind == "tag":
        tags = list(condition.tag or [])
        if holds:
            return f"tagged {_listed(tags)}"
        return f"not tagged {tags[0]}" if len(tags) == 1 else f"not tagged any of {', '.join(tags)}"
    if kind == "type":
        kinds = [f"{'an' if t == 'organisation' else 'a'} {t}" for t in condition.type or []]
        return f"is {_listed(kinds)}" if holds else f"is not {_listed(kinds)}"
    if kind == "owner":
        owners = list(condition.owner or [])
        if holds:
            return f"owned by {_listed(owners)}"
        return f"not owned by {owners[0]}" if len(owners) == 1 else f"not owned by any of {', '.join(owners)}"
    field = f"field {condition.field}"
    test = condition.field_test
    if test == "equals":
        return f"{field} is {condition.equals}" if holds else f"{field} is not {condition.equals}"
    if test == "in":
        values = ", ".join(condition.in_ or [])
        return f"{field} is one of {values}" if holds else f"{field} is not one of {values}"
    filled = bool(condition.present) == holds
    return f"{field} is filled in" if filled else f"{field} is empty"


def scope_sql(rules: Rules) -> tuple[str, dict[str, Any]]:
    """The statement building ``reconcile.sync_scope`` and its bound parameters."""
    bind = _Binder()
    whens = [TYPE_WHEN.format(types=bind(list(rules.sync.party_types)))]
    for index, condition in enumerate(rules.sync.skip_if):
        reason = bind(f"skip_if[{index}]: {describe(condition, holds=True)}")
        whens.append(SKIP_WHEN.format(condition=_condition_sql(condition, bind), reason=reason))
    for index, condition in enumerate(rules.sync.only_if):
        reason = bind(f"only_if[{index}]: {describe(condition, holds=False)}")
        whens.append(ONLY_WHEN.format(condition=_condition_sql(condition, bind), reason=reason))
    return SCOPE_SQL.format(whens="\n            ".join(whens)), bind.params


def build_sync_scope(con: duckdb.DuckDBPyConnection, rules: Rules) -> int:
    """``reconcile.sync_scope``: every staged Capsule party, ``in_scope`` and, when out, why.

    The type test comes first, then ``skip_if`` (the first condition that holds), then ``only_if``
    (the first that fails). Deleted parties are scoped like live ones (by their last known tags and
    fields), so a party the rules keep out is left alone in Xero even when deleted.
    """
    sql, params = scope_sql(rules)
    con.execute("create schema if not exists reconcile")
    con.execute(sql, params)
    return con.table(SCOPE_TABLE).aggregate("count(*)").fetchall()[0][0]


def _step_sql(transform: Transform, source: str, bind: _Binder) -> str:
    column = _column(transform.field)
    values = {"column": column}
    for name in Transform.OP_PARAMS[transform.op]:
        values[name] = bind(transform.param(name) if name != "with" else (transform.param(name) or ""))
    expression = TRANSFORM_SQL[transform.op].format(**values)
    return STEP_SQL.format(expression=expression, column=column, source=source)


def _column(name: str) -> str:
    if name not in TRANSFORM_COLUMNS:
        raise ValueError(f"{name} is not a transformable column")
    return name


def _table(name: str) -> str:
    if not _TABLE_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a schema.table name")
    return name


def transforms_sql(rules: Rules, source: str, columns: list[str]) -> tuple[str, dict[str, Any]]:
    """The select applying ``rules.transforms`` in order to ``source`` (with ``columns``), and its parameters."""
    bind = _Binder()
    select = TABLE_SQL.format(table=_table(source))
    changed: list[str] = []
    for transform in rules.transforms:
        if transform.field not in columns:
            raise ValueError(f"{source} has no column {transform.field} for the transform on it")
        select = _step_sql(transform, select, bind)
        if transform.field not in changed:
            changed.append(transform.field)
    if changed:
        canonical = ", ".join(
            f"{CANONICAL_SQL[c].format(column=_column(c))} as {_column(c)}" for c in changed
        )
        select = CANONICAL_STEP_SQL.format(expressions=canonical, source=select)
    return select, bind.params


def apply_transforms(
    con: duckdb.DuckDBPyConnection,
    rules: Rules,
    source: str = "reconcile.mapped_contacts",
    target: str = "reconcile.desired_contacts",
) -> int:
    """``target`` = every row and column of ``source``, the transformed text columns after their chain."""
    register_functions(con)
    columns = con.table(_table(source)).columns
    select, params = transforms_sql(rules, source, columns)
    schema = _table(target).split(".")[0]
    con.execute(f"create schema if not exists {schema}")
    con.execute(CREATE_SQL.format(table=_table(target), select=select), params)
    return con.table(target).aggregate("count(*)").fetchall()[0][0]


def build_money_report_settings(con: duckdb.DuckDBPyConnection, rules: Rules) -> int:
    """``reconcile.money_report_settings``: the rules file's values the money reports read, bound.

    A view cannot take a parameter, so the reports read this one-row table instead
    (``won_not_invoiced_days`` from ``money.won_not_invoiced_days``)."""
    con.execute("create schema if not exists reconcile")
    params = {"won_not_invoiced_days": rules.money.won_not_invoiced_days}
    return build(con, "reconcile", "money_report_settings", params)


# ---- money.capsule_fields ------------------------------------------------------------------------

# The Capsule field type each money value needs (docs/money-in-capsule.md): amounts are numbers, the
# last invoice ("INV-0042 2026-11-30") text, the last payment a date.
MONEY_FIELD_TYPES = {
    "invoiced_12_months": "number",
    "outstanding": "number",
    "overdue": "number",
    "last_invoice": "text",
    "last_payment_date": "date",
}


def money_field_params(rules: Rules) -> dict[str, list[str]]:
    """``money.capsule_fields`` as the bound parameters of reconcile/capsule_money_definitions.sql:
    parallel lists of the keys turned on, their Capsule field names and the type each needs."""
    named = rules.money.capsule_fields.named()
    return {
        "money_field_keys": list(named),
        "money_field_names": list(named.values()),
        "money_field_types": [MONEY_FIELD_TYPES[key] for key in named],
    }


# Turning billing on must not bill every deal ever won: only opportunities won in this window are
# planned (docs/billing.md).
BILLING_LOOKBACK = timedelta(days=30)


def billing_params(rules: Rules, now: datetime) -> dict[str, Any]:
    """The ``billing:`` section as the bound parameters of reconcile.billing_documents."""
    billing = rules.billing
    tracking = billing.tracking
    return {
        "billing_kind": billing.won_opportunities,
        "billing_since": now - BILLING_LOOKBACK,
        "billing_line_amount_types": billing.line_amount_types,
        "billing_account_code": billing.account_code,
        "billing_tax_type": billing.tax_type,
        "billing_item_code": billing.item_code,
        "billing_tracking_category": tracking.category if tracking else None,
        "billing_tag_prefix": tracking.from_tag_prefix if tracking else None,
        "billing_opportunity_field": billing.opportunity_field,
    }

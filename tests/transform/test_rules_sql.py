"""The rules file's filters and transforms in SQL: which parties sync and why not, and the text Xero gets."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from capsule_xero.rules.loading import parse_rules
from capsule_xero.rules.model import Rules
from transform.rules_sql import apply_transforms, build_sync_scope, scope_sql, transforms_sql

# party_id, party_type, tags, custom fields (keys as staging folds them), owner e-mail
PARTIES = [
    (
        1,
        "organisation",
        ["Customer", "Wholesale"],
        {"industry": "Mining", "abn": "51 824 753 556"},
        "mia@sct.com.au",
    ),
    (2, "organisation", ["Supplier"], {"industry": "Retail", "abn": "  "}, "tom@sct.com.au"),
    (3, "person", ["Staff"], {}, "mia@sct.com.au"),
    (4, "person", [], None, None),
    (5, "organisation", None, {"industry": "Construction"}, "TOM@SCT.COM.AU"),
    (6, "person", ["customer", "VIP"], {"newsletter opt-in": "true"}, "ana@sct.com.au"),
]


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("create schema staging")
    connection.execute(
        "create table staging.capsule_parties (party_id bigint, party_type varchar, tags varchar[],"
        " custom_fields map(varchar, varchar), owner_email varchar, is_deleted boolean)"
    )
    for party_id, party_type, tags, fields, owner in PARTIES:
        connection.execute(
            "insert into staging.capsule_parties values ($1, $2, $3, map($4, $5), $6, false)",
            [
                party_id,
                party_type,
                tags,
                list((fields or {}).keys()),
                list((fields or {}).values()),
                owner,
            ],
        )
    connection.execute("update staging.capsule_parties set custom_fields = null where party_id = 4")
    yield connection
    connection.close()


def scope(con: duckdb.DuckDBPyConnection, text: str) -> dict[int, str | None]:
    """party id → why it is out of scope (None when it syncs)."""
    rows = build_sync_scope(con, parse_rules(text))
    assert rows == len(PARTIES)
    result = con.sql("select party_id, in_scope, scope_reason from reconcile.sync_scope").fetchall()
    assert all(in_scope == (reason is None) for _, in_scope, reason in result)
    return {party_id: reason for party_id, _, reason in result}


def synced(con: duckdb.DuckDBPyConnection, text: str) -> set[int]:
    return {party_id for party_id, reason in scope(con, text).items() if reason is None}


# --- scope -------------------------------------------------------------------------------------------


def test_by_default_every_party_is_in_scope(con: duckdb.DuckDBPyConnection) -> None:
    build_sync_scope(con, Rules())
    assert con.sql("select count(*) from reconcile.sync_scope where in_scope").fetchall() == [(len(PARTIES),)]


def test_a_party_type_left_out_of_party_types_is_out_with_that_reason(con: duckdb.DuckDBPyConnection) -> None:
    reasons = scope(con, "sync: {party_types: [organisation]}")
    assert {p for p, r in reasons.items() if r is None} == {1, 2, 5}
    assert reasons[3] == reasons[4] == reasons[6] == "type person not in sync.party_types"


def test_skip_if_tag_keeps_tagged_parties_out_whatever_the_case(con: duckdb.DuckDBPyConnection) -> None:
    reasons = scope(con, "sync:\n  skip_if:\n    - tag: STAFF\n")
    assert reasons[3] == "skip_if[0]: tagged STAFF"
    assert {p for p, r in reasons.items() if r is None} == {1, 2, 4, 5, 6}


def test_a_tag_condition_with_a_list_holds_for_any_of_the_tags(con: duckdb.DuckDBPyConnection) -> None:
    reasons = scope(con, "sync:\n  only_if:\n    - tag: [Customer, Supplier]\n")
    assert {p for p, r in reasons.items() if r is None} == {1, 2, 6}
    assert reasons[5] == "only_if[0]: not tagged any of Customer, Supplier"


def test_a_type_condition(con: duckdb.DuckDBPyConnection) -> None:
    reasons = scope(con, "sync:\n  skip_if:\n    - type: person\n")
    assert reasons[4] == "skip_if[0]: is a person"
    assert {p for p, r in reasons.items() if r is None} == {1, 2, 5}


def test_an_owner_condition_compares_emails_case_insensitively_and_an_ownerless_party_fails_it(
    con: duckdb.DuckDBPyConnection,
) -> None:
    reasons = scope(con, "sync:\n  only_if:\n    - owner: Tom@SCT.com.au\n")
    assert {p for p, r in reasons.items() if r is None} == {2, 5}
    assert reasons[4] == "only_if[0]: not owned by Tom@SCT.com.au"
    assert synced(con, "sync:\n  skip_if:\n    - owner: [mia@sct.com.au, ana@sct.com.au]\n") == {2, 4, 5}


def test_a_field_equals_condition_ignores_case_of_the_field_name_and_the_value(
    con: duckdb.DuckDBPyConnection,
) -> None:
    reasons = scope(con, "sync:\n  only_if:\n    - {field: INDUSTRY, equals: mining}\n")
    assert {p for p, r in reasons.items() if r is None} == {1}
    assert reasons[2] == "only_if[0]: field INDUSTRY is not mining"
    assert reasons[4] == "only_if[0]: field INDUSTRY is not mining"


def test_a_field_in_condition(con: duckdb.DuckDBPyConnection) -> None:
    reasons = scope(con, "sync:\n  skip_if:\n    - {field: Industry, in: [Mining, Retail]}\n")
    assert reasons[1] == reasons[2] == "skip_if[0]: field Industry is one of Mining, Retail"
    assert {p for p, r in reasons.items() if r is None} == {3, 4, 5, 6}


def test_a_field_present_condition_treats_blank_as_empty(con: duckdb.DuckDBPyConnection) -> None:
    reasons = scope(con, "sync:\n  only_if:\n    - {field: ABN, present: true}\n")
    assert {p for p, r in reasons.items() if r is None} == {1}
    assert reasons[2] == "only_if[0]: field ABN is empty"
    reasons = scope(con, "sync:\n  skip_if:\n    - {field: ABN, present: false}\n")
    assert {p for p, r in reasons.items() if r is None} == {1}
    assert reasons[2] == "skip_if[0]: field ABN is empty"
    assert synced(con, "sync:\n  only_if:\n    - {field: ABN, present: false}\n") == {2, 3, 4, 5, 6}


def test_only_if_needs_every_condition_and_names_the_first_that_fails(con: duckdb.DuckDBPyConnection) -> None:
    reasons = scope(
        con,
        "sync:\n  only_if:\n    - type: organisation\n    - {field: Industry, in: [Mining, Construction]}\n"
        "    - owner: tom@sct.com.au\n",
    )
    assert {p for p, r in reasons.items() if r is None} == {5}
    assert reasons[1] == "only_if[2]: not owned by tom@sct.com.au"
    assert reasons[2] == "only_if[1]: field Industry is not one of Mining, Construction"
    assert reasons[3] == "only_if[0]: is not an organisation"


def test_skip_if_keeps_out_a_party_any_condition_holds_for_and_wins_over_only_if(
    con: duckdb.DuckDBPyConnection,
) -> None:
    reasons = scope(
        con,
        "sync:\n  only_if:\n    - tag: Customer\n  skip_if:\n    - tag: Staff\n    - {field: Industry, equals: Mining}\n",
    )
    assert {p for p, r in reasons.items() if r is None} == {6}
    assert reasons[1] == "skip_if[1]: field Industry is Mining"
    assert reasons[3] == "skip_if[0]: tagged Staff"
    assert reasons[2] == "only_if[0]: not tagged Customer"


def test_a_tag_written_as_sql_is_just_a_tag_and_never_reaches_the_sql_text(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("create table x (keep integer)")
    evil = "'); drop table x; --"
    con.execute("update staging.capsule_parties set tags = [$1] where party_id = 4", [evil])
    rules_text = f'sync:\n  skip_if:\n    - tag: "{evil}"\n    - {{field: "{evil}", equals: "{evil}"}}\n'
    reasons = scope(con, rules_text)
    assert reasons[4] == f"skip_if[0]: tagged {evil}"
    assert {p for p, r in reasons.items() if r is None} == {1, 2, 3, 5, 6}
    assert con.sql("select count(*) from x").fetchall() == [(0,)]
    sql, params = scope_sql(parse_rules(rules_text))
    assert evil not in sql and "drop" not in sql
    assert evil in params.values()


# --- transforms --------------------------------------------------------------------------------------

MAPPED = [
    # party_id, name, first_name, last_name, email_address, website, phone_default
    (1, "  acme mining pty-ltd  ", None, None, "accounts@acme.com.au", "https://acme.com.au", "+61298765432"),
    (2, "O'BRIEN & SONS PTY LTD", None, None, None, None, None),
    (3, "Zoë Müller", "Zoë", "Müller", "zoe@example.com", None, "+61412345678"),
]


@pytest.fixture
def mapped(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("create schema reconcile")
    con.execute(
        "create table reconcile.mapped_contacts (party_id bigint, name varchar, first_name varchar,"
        " last_name varchar, email_address varchar, website varchar, phone_default varchar)"
    )
    con.executemany("insert into reconcile.mapped_contacts values (?, ?, ?, ?, ?, ?, ?)", MAPPED)
    return con


def desired(con: duckdb.DuckDBPyConnection, transforms: str, column: str = "name") -> list[str | None]:
    assert apply_transforms(con, parse_rules(f"transforms:\n{transforms}")) == len(MAPPED)
    rows = con.table("reconcile.desired_contacts").order("party_id").select(column).fetchall()
    return [row[0] for row in rows]


def test_without_transforms_desired_contacts_are_the_mapped_contacts(
    mapped: duckdb.DuckDBPyConnection,
) -> None:
    apply_transforms(mapped, Rules())
    assert mapped.sql("select * from reconcile.desired_contacts order by party_id").fetchall() == MAPPED


def test_trim_upper_lower_and_title(mapped: duckdb.DuckDBPyConnection) -> None:
    assert desired(mapped, "  - {field: name, op: upper}") == [
        "ACME MINING PTY-LTD",  # canonical form: trimmed
        "O'BRIEN & SONS PTY LTD",
        "ZOË MÜLLER",
    ]
    assert desired(mapped, "  - {field: name, op: lower}")[2] == "zoë müller"
    assert desired(mapped, "  - {field: name, op: trim}")[0] == "acme mining pty-ltd"
    assert desired(mapped, "  - {field: name, op: title}")[:2] == [
        "Acme Mining Pty-Ltd",
        "O'brien & Sons Pty Ltd",
    ]


def test_truncate_keeps_at_most_length_characters(mapped: duckdb.DuckDBPyConnection) -> None:
    assert desired(mapped, "  - {field: name, op: truncate, length: 6}") == ["acme", "O'BRIE", "Zoë Mü"]


def test_replace_is_literal_text_not_a_pattern(mapped: duckdb.DuckDBPyConnection) -> None:
    assert desired(mapped, '  - {field: name, op: replace, find: "PTY LTD", with: "Pty Ltd"}')[1] == (
        "O'BRIEN & SONS Pty Ltd"
    )
    assert desired(mapped, '  - {field: name, op: replace, find: ".*", with: "x"}') == [
        m[1].strip() for m in MAPPED
    ]
    assert desired(mapped, '  - {field: name, op: replace, find: " & "}')[1] == "O'BRIENSONS PTY LTD"


def test_default_fills_only_empty_values(mapped: duckdb.DuckDBPyConnection) -> None:
    assert desired(mapped, '  - {field: website, op: default, value: "https://sct.com.au"}', "website") == [
        "https://acme.com.au",
        "https://sct.com.au",
        "https://sct.com.au",
    ]


def test_prefix_and_suffix_apply_only_to_values_that_exist(mapped: duckdb.DuckDBPyConnection) -> None:
    assert desired(mapped, '  - {field: first_name, op: prefix, value: "Dr "}', "first_name") == [
        None,
        None,
        "Dr Zoë",
    ]
    assert desired(mapped, '  - {field: last_name, op: suffix, value: " (AU)"}', "last_name") == [
        None,
        None,
        "Müller (AU)",
    ]


def test_transforms_apply_in_the_order_written(mapped: duckdb.DuckDBPyConnection) -> None:
    truncate_then_suffix = desired(
        mapped, '  - {field: name, op: truncate, length: 3}\n  - {field: name, op: suffix, value: "!"}'
    )
    suffix_then_truncate = desired(
        mapped, '  - {field: name, op: suffix, value: "!"}\n  - {field: name, op: truncate, length: 3}'
    )
    assert truncate_then_suffix == ["a!", "O'B!", "Zoë!"]
    assert suffix_then_truncate == ["a", "O'B", "Zoë"]


def test_other_columns_are_copied_unchanged_and_emails_stay_canonical(
    mapped: duckdb.DuckDBPyConnection,
) -> None:
    apply_transforms(
        mapped,
        parse_rules(
            "transforms:\n  - {field: email_address, op: replace, find: '@acme.com.au', with: '@Acme.COM'}\n"
            "  - {field: name, op: upper}\n"
        ),
    )
    rows = mapped.sql(
        "select party_id, email_address, phone_default, first_name from reconcile.desired_contacts order by 1"
    ).fetchall()
    assert rows == [
        (1, "accounts@acme.com", "+61298765432", None),
        (2, None, None, None),
        (3, "zoe@example.com", "+61412345678", "Zoë"),
    ]


def test_a_transform_value_written_as_sql_is_just_text(mapped: duckdb.DuckDBPyConnection) -> None:
    evil = "'); drop table reconcile.mapped_contacts; --"
    text = f'  - {{field: name, op: replace, find: "acme", with: "{evil}"}}'
    assert desired(mapped, text)[0] == f"{evil} mining pty-ltd"
    assert mapped.sql("select count(*) from reconcile.mapped_contacts").fetchall() == [(len(MAPPED),)]
    sql, params = transforms_sql(parse_rules(f"transforms:\n{text}"), "reconcile.mapped_contacts", ["name"])
    assert evil not in sql and "drop" not in sql
    assert evil in params.values()


# --- the limits of a rules file are what the SQL can take (issue 11) ----------------------------------


def test_the_most_transforms_a_rules_file_may_hold_with_the_longest_values_run_in_the_reconcile(
    mapped: duckdb.DuckDBPyConnection,
) -> None:
    from capsule_xero.rules.limits import MAX_TRANSFORMS, XERO_TEXT_LIMITS

    limit = XERO_TEXT_LIMITS["name"]
    steps = [
        f"  - {{field: name, op: suffix, value: {'x' * limit}}}",
        f"  - {{field: name, op: truncate, length: {limit}}}",
    ]
    names = desired(mapped, "\n".join(steps * (MAX_TRANSFORMS // 2)))
    assert all(len(name) <= limit for name in names)  # the first loses its outer spaces after the cut
    assert names[1] == ("O'BRIEN & SONS PTY LTD" + "x" * limit)[:limit]


def test_the_most_conditions_a_rules_file_may_hold_run_in_the_scope(con: duckdb.DuckDBPyConnection) -> None:
    from capsule_xero.rules.limits import MAX_CONDITIONS

    conditions = "".join(f"    - {{field: F{n}, equals: v}}\n" for n in range(MAX_CONDITIONS - 1))
    reasons = scope(con, f"sync:\n  skip_if:\n{conditions}    - tag: Staff\n")
    assert reasons[3] == f"skip_if[{MAX_CONDITIONS - 1}]: tagged Staff"
    assert sum(reason is not None for reason in reasons.values()) == 1


def test_a_transformed_value_is_cleaned_like_staged_text(mapped: duckdb.DuckDBPyConnection) -> None:
    # A suffix typed with an escape, a replace leaving two spaces, a prefix of only spaces: what
    # reaches Xero is cleaned text (no controls, single spaces, nothing invisible at the ends).
    assert (
        desired(mapped, '  - {field: name, op: suffix, value: " (AU)\\x00\\u200b"}')[2] == "Zoë Müller (AU)"
    )
    assert desired(mapped, '  - {field: name, op: replace, find: "&", with: ""}')[1] == "O'BRIEN SONS PTY LTD"
    assert desired(mapped, '  - {field: first_name, op: prefix, value: "  "}', "first_name")[2] == "Zoë"

"""Staging SQL on a generated world: every documented messy case comes out normalised as CASES.md says."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb

from sandbox.generator import Dataset


def _one(con: duckdb.DuckDBPyConnection, table: str, key: str, value: Any, column: str) -> Any:
    # Identifiers are the test's own constants; the value is bound.
    sql = f"select {column} from staging.{table} where {key} = $value"  # noqa: S608
    return con.execute(sql, {"value": value}).fetchall()[0][0]


def party(con: duckdb.DuckDBPyConnection, party_id: int, column: str) -> Any:
    return _one(con, "capsule_parties", "party_id", party_id, column)


def contact(con: duckdb.DuckDBPyConnection, contact_id: str, column: str) -> Any:
    return _one(con, "xero_contacts", "contact_id", contact_id, column)


def test_staging_has_one_row_per_capsule_party_tombstone_and_xero_contact(
    world: tuple[Dataset, Any, int],
) -> None:
    dataset, con, _ = world
    rows = len(dataset.capsule_parties) + len(dataset.capsule_deleted_parties)
    assert con.sql("select count(*), count(distinct party_id) from staging.capsule_parties").fetchall() == [
        (rows, rows)
    ]
    assert con.sql("select count(*) from staging.xero_contacts").fetchall() == [(len(dataset.xero_contacts),)]


def test_valid_abns_in_any_format_stage_as_their_eleven_digits(world: tuple[Dataset, Any, int]) -> None:
    dataset, con, _ = world
    for case in ("abn_valid_spaced", "abn_valid_plain", "abn_valid_odd_format"):
        for party_id in dataset.cases[case]:
            raw, abn, problem = con.execute(
                "select abn_raw, abn, abn_problem from staging.capsule_parties where party_id = $id",
                {"id": party_id},
            ).fetchall()[0]
            assert abn == "".join(ch for ch in raw if ch.isdigit()) and problem is None, (case, raw)


def test_invalid_abns_are_dropped_and_named_by_the_rule_they_break(world: tuple[Dataset, Any, int]) -> None:
    dataset, con, _ = world
    for party_id in dataset.cases["abn_invalid_checksum"]:
        assert party(con, party_id, "abn") is None
        assert "checksum" in party(con, party_id, "abn_problem")
    for party_id in dataset.cases["abn_wrong_length"]:
        assert party(con, party_id, "abn") is None
        assert "11 digits" in party(con, party_id, "abn_problem")


def test_an_abn_typed_differently_in_xero_stages_to_the_same_digits(world: tuple[Dataset, Any, int]) -> None:
    dataset, con, _ = world
    for party_id, contact_id in dataset.cases["xero_match_abn_formatted_differently"]:
        assert party(con, party_id, "abn") == contact(con, contact_id, "abn") is not None


def test_name_variants_fold_to_the_same_name_on_both_sides(world: tuple[Dataset, Any, int]) -> None:
    dataset, con, _ = world
    for case in (
        "name_variant_case",
        "name_variant_legal_suffix",
        "name_variant_ampersand",
        "name_variant_accents",
    ):
        for party_id, contact_id in dataset.cases[case]:
            assert party(con, party_id, "folded_name") == contact(con, contact_id, "folded_name"), case


def test_free_mail_never_counts_as_a_company_domain_but_a_business_domain_does(
    world: tuple[Dataset, Any, int],
) -> None:
    dataset, con, _ = world
    for party_id in dataset.cases["free_mail_organisation"]:
        assert party(con, party_id, "email") is not None
        assert party(con, party_id, "company_domain") is None
    for party_id, contact_id in dataset.cases["xero_match_email_domain"]:
        assert (
            party(con, party_id, "company_domain") == contact(con, contact_id, "company_domain") is not None
        )


def test_phones_in_australian_formats_stage_as_e164_and_garbage_is_counted(
    world: tuple[Dataset, Any, int],
) -> None:
    dataset, con, _ = world
    for case in (
        "phone_mobile_local",
        "phone_landline_parenthesised",
        "phone_landline_dashed",
        "phone_landline_trunk_zero",
    ):
        for party_id in dataset.cases[case]:
            # A party may hold several numbers (another case's may come first): one of them stages.
            assert party(con, party_id, "phone_e164") is not None, case
    for party_id in dataset.cases["phone_garbage"]:
        assert party(con, party_id, "bad_phones") >= 1


def test_bad_emails_are_counted_and_never_used(world: tuple[Dataset, Any, int]) -> None:
    dataset, con, _ = world
    for party_id in dataset.cases["bad_email"]:
        assert party(con, party_id, "bad_emails") >= 1
        assert party(con, party_id, "email") != party(con, party_id, "first_bad_email")


def test_a_party_deleted_after_it_was_extracted_is_marked_deleted(world: tuple[Dataset, Any, int]) -> None:
    dataset, con, deleted = world
    assert party(con, deleted, "is_deleted") is True
    assert con.sql("select count(*) from staging.capsule_parties where is_deleted").fetchall() == [
        (1 + len(dataset.capsule_deleted_parties),)
    ]


def test_a_party_only_ever_seen_as_a_tombstone_still_stages_so_its_contact_can_be_archived(
    world: tuple[Dataset, Any, int],
) -> None:
    dataset, con, _ = world
    for tombstone, _contact in dataset.cases["deleted_party_synced"]:
        assert party(con, tombstone, "is_deleted") is True
        assert party(con, tombstone, "deleted_at") is not None


def test_parties_breaking_a_rule_are_quarantined_with_the_rule_field_and_value(
    world: tuple[Dataset, Any, int],
) -> None:
    from transform.quarantine import quarantine, staged_parties

    dataset, con, _ = world
    rows, drift = quarantine(staged_parties(con))
    assert drift == []
    found = {(r["record_id"], r["rule"]): r for r in rows.to_dict("records")}
    for party_id in dataset.cases["abn_invalid_checksum"]:
        row = found[(str(party_id), "abn_valid")]
        assert row["field"] == "ABN" and row["value"] == party(con, party_id, "abn_raw")
        assert row["detail"] == "checksum fails"
        assert row["effect"] == "ABN not sent: TaxNumber left as Xero has it"
    for party_id in dataset.cases["bad_email"]:
        assert found[(str(party_id), "email_valid")]["value"] == party(con, party_id, "first_bad_email")
    for party_id in dataset.cases["over_long_name"]:
        assert found[(str(party_id), "name_fits_xero")]["field"] == "name"
        assert found[(str(party_id), "name_fits_xero")]["effect"] == "party held back"
    for party_id in dataset.cases["abn_valid_spaced"]:  # a valid ABN typed with spaces is fine
        assert (str(party_id), "abn_valid") not in found


def test_a_missing_or_retyped_staged_column_is_schema_drift_not_a_quarantined_row(
    world: tuple[Dataset, Any, int],
) -> None:
    from transform.quarantine import quarantine

    _, con, _ = world
    parties = con.sql("select * from staging.capsule_parties").df()
    assert quarantine(parties.drop(columns=["bad_phones"]))[1]
    assert quarantine(parties.astype({"party_id": "float64"}))[1]


def test_the_row_rule_check_passes_on_a_typical_world_and_fails_when_most_rows_are_bad(
    world: tuple[Dataset, Any, int], tmp_path: Path
) -> None:
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from assets.checks import capsule_parties_follow_the_row_rules
    from assets.resources import RulesResource
    from assets.staging import staging_capsule_parties, staging_quarantine

    _, con, _ = world
    con.execute("checkpoint")
    (path,) = con.sql(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0]
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(path, copy)
    resources = {"duckdb": DuckDBResource(database=str(copy)), "rules": RulesResource()}
    result = dg.materialize(
        [staging_capsule_parties, staging_quarantine, capsule_parties_follow_the_row_rules],
        resources=resources,
    )
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed and evaluation.metadata["quarantined_parties"].value > 0
    with duckdb.connect(str(copy)) as scratch:
        quarantined = scratch.sql("select count(*) from staging.quarantine").fetchall()[0][0]
        assert quarantined >= evaluation.metadata["quarantined_parties"].value
        scratch.execute("update raw.capsule_parties__email_addresses set address = 'not an address'")
    failed = dg.materialize(
        [staging_capsule_parties, capsule_parties_follow_the_row_rules],
        resources=resources,
        raise_on_error=False,
    )
    (evaluation,) = failed.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.metadata["reject_share"].value > 0.2
    # The share is the rules file's to set: a consultant mid-clean-up may accept more.
    lenient = tmp_path / "capsule-xero.yaml"
    lenient.write_text("validation:\n  max_reject_share: 1.0\n")
    accepted = dg.materialize(
        [staging_capsule_parties, capsule_parties_follow_the_row_rules],
        resources=resources | {"rules": RulesResource(config_file=str(lenient))},
    )
    (evaluation,) = accepted.get_asset_check_evaluations()
    assert evaluation.passed and evaluation.metadata["max_reject_share"].value == 1.0


def test_an_idle_sync_with_nothing_staged_or_planned_passes_validation_without_drift(
    world: tuple[Dataset, Any, int],
) -> None:
    from transform.planned_rejects import planned_rows, reject_planned
    from transform.quarantine import quarantine, staged_parties

    _, con, _ = world
    # DuckDB returns VARCHAR columns of an empty result as `object`; the checks must not read that
    # as schema drift, or every sync with nothing to write fails (seen in the Dagster UI).
    nothing_staged = staged_parties(con).iloc[0:0]
    assert quarantine(nothing_staged)[1] == []
    nothing_planned = planned_rows(con).iloc[0:0]
    assert reject_planned(nothing_planned)[1] == []
    # A genuinely retyped column is still drift when nothing came.
    assert quarantine(nothing_staged.astype({"party_id": "float64"}))[1]


def _copy_of(con: duckdb.DuckDBPyConnection, to: Path) -> duckdb.DuckDBPyConnection:
    con.execute("checkpoint")
    (path,) = con.sql(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0]
    shutil.copyfile(path, to)
    return duckdb.connect(str(to))


def test_this_tools_own_write_back_is_no_capsule_change_but_a_later_edit_is(
    world: tuple[Dataset, Any, int], tmp_path: Path, sql_params: dict[str, object]
) -> None:
    from transform.sql import build

    _, con, _ = world
    before = "2024-01-02 03:04:05+00"
    with _copy_of(con, tmp_path / "copy.duckdb") as scratch:
        ours, edited, replaced = (
            row[0]
            for row in scratch.sql(
                "select party_id from staging.capsule_parties where xero_contact_id is not null"
                " and not is_deleted order by party_id limit 3"
            ).fetchall()
        )
        # Each party's ContactID was written back, and Capsule answered with the party's stamp: the
        # one it still has (ours), an older one (edited: somebody changed the party after the write),
        # or the one it has while its field holds another id (replaced in the same second).
        scratch.execute(
            """
            insert into ledger.capsule_write_backs
            select
                p.party_id,
                case when p.party_id = $replaced then 'another-id' else p.xero_contact_id end,
                1, 'written', null, now(), cast($before as timestamptz),
                case when p.party_id = $edited then p.updated_at - interval 1 minute else p.updated_at end
            from staging.capsule_parties as p
            where p.party_id in ($ours, $edited, $replaced)
            """,
            {"before": before, "ours": ours, "edited": edited, "replaced": replaced},
        )
        build(scratch, "staging", "capsule_parties", sql_params)
        changed_at = dict(
            scratch.execute(
                "select party_id, case when changed_at = updated_at then 'updated_at'"
                " when changed_at = cast($before as timestamptz) then 'before' end"
                " from staging.capsule_parties where party_id in ($ours, $edited, $replaced)",
                {"ours": ours, "edited": edited, "replaced": replaced, "before": before},
            ).fetchall()
        )
    assert changed_at == {ours: "before", edited: "updated_at", replaced: "updated_at"}

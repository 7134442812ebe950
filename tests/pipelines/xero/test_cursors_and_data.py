"""The Xero cursor never runs ahead of the contacts DuckDB holds (issue 11, item 1)."""

from __future__ import annotations

import duckdb

from capsule_xero.settings import Settings
from pipelines.capsule import extract_capsule
from sandbox.generator import Dataset
from sandbox.xero.control import XeroControl
from tests.pipelines.xero.conftest import query
from tests.pipelines.xero.test_extract import Extract


def contact_count(settings: Settings) -> int:
    return query(settings, "select count(*) from raw.xero_contacts")[0][0]


def test_a_lost_duckdb_file_makes_the_next_xero_extract_a_full_read(
    extract: Extract, settings: Settings, dataset: Dataset, xero: XeroControl
) -> None:
    extract()
    settings.duckdb_path.unlink()
    extract_capsule(settings)  # `sync` reads Capsule first: the file and its dataset exist again

    run = extract()

    assert run.modes["xero_contacts"] == "full read"
    assert contact_count(settings) == len(xero.contacts())


def test_an_emptied_contacts_table_is_read_in_full_not_from_the_cursor(
    extract: Extract, settings: Settings, dataset: Dataset, xero: XeroControl
) -> None:
    extract()
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("delete from raw.xero_contacts")

    run = extract()

    assert run.modes["xero_contacts"] == "full read"
    assert contact_count(settings) == len(xero.contacts())


def test_a_whole_duckdb_file_keeps_the_incremental_read(
    extract: Extract, settings: Settings, dataset: Dataset
) -> None:
    extract()
    assert extract().modes["xero_contacts"] == "incremental"

"""The alert sensor never opens the DuckDB file while a sync holds the home (issue 11, item 6): a
read-only handle, even for a moment, makes DuckDB refuse the sync's write. It reads the file on the
next check instead; alerts that need no DuckDB (the sign-in, the budget) go out meanwhile."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from assets.sensors.alerts import alerts_sensor
from reverse_etl.ledger.schema import ensure_ledger
from tests.assets.test_alerting import home, http  # noqa: F401 - fixtures
from tests.assets.test_extract_assets_and_the_home import running_sync
from tests.reverse_etl.test_alerts import HttpReceiver, queue


def test_the_alert_sensor_leaves_the_duckdb_file_to_a_running_sync_and_reads_it_afterwards(
    home: Path,  # noqa: F811 - the fixture
    http: HttpReceiver,  # noqa: F811 - the fixture
) -> None:
    (home / "capsule-xero.yaml").write_text(f"alerts:\n  channels:\n    - webhook: {{url: {http.url}/ops}}\n")
    with duckdb.connect(str(home / "capsule_xero.duckdb")) as con:
        ensure_ledger(con)
        queue(con, 7, "dead", "Email address is not valid")
    with running_sync(home):
        alerts_sensor(dg.build_sensor_context())
        assert [body["kind"] for path, body in http.posts if path == "/ops"] == []
    alerts_sensor(dg.build_sensor_context())
    assert [body["kind"] for path, body in http.posts if path == "/ops"] == ["dead_letters"]

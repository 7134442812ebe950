"""The Dagster UI tells a bookkeeper, beside the nightly schedule, that it is on without anyone turning
it on, what it does, and that it writes nothing."""

from __future__ import annotations

import dagster as dg

from assets.schedules import nightly_reconciliation_schedule, nightly_reconciliation_schedule_for


def test_the_nightly_schedule_says_in_the_ui_that_it_is_on_by_default_and_writes_nothing() -> None:
    for schedule in (nightly_reconciliation_schedule, nightly_reconciliation_schedule_for(tenants=["acme"])):
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        description = schedule.description or ""
        assert description.startswith("On by default: every night at 02:00 Sydney time")
        assert "never writes to Xero or Capsule" in description

"""The Dagster code location loads as `dagster dev` would, with no credential set."""

from __future__ import annotations

import dagster as dg


def test_the_code_location_loads_with_no_credentials(monkeypatch) -> None:
    for name in ("CAPSULE_API_TOKEN", "XERO_CLIENT_ID", "XERO_CLIENT_SECRET", "XERO_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    from assets.definitions import defs

    dg.Definitions.validate_loadable(defs)


def test_a_fresh_install_runs_the_nightly_reconciliation_and_every_sensor_until_a_person_stops_one() -> None:
    """What a new Dagster instance shows before anyone touched a toggle (Dagster keeps no state for an
    instigator until someone starts or stops it, so ``default_status`` is what runs)."""
    from assets.definitions import defs

    repository = defs.get_repository_def()
    statuses = {s.name: s.default_status.value for s in repository.schedule_defs} | {
        s.name: s.default_status.value for s in repository.sensor_defs
    }
    assert statuses == {
        "nightly_reconciliation_schedule": "RUNNING",
        "capsule_changes_sensor": "RUNNING",
        "webhook_events_sensor": "RUNNING",
        "alerts_sensor": "RUNNING",
        "alert_on_failed_run": "RUNNING",
    }

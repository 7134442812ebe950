"""The Dagster code location loads as `dagster dev` would, with no credential set."""

from __future__ import annotations

import dagster as dg


def test_the_code_location_loads_with_no_credentials(monkeypatch) -> None:
    for name in ("CAPSULE_API_TOKEN", "XERO_CLIENT_ID", "XERO_CLIENT_SECRET", "XERO_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    from assets.definitions import defs

    dg.Definitions.validate_loadable(defs)

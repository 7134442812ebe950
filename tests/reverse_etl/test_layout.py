"""The writers stay plain Python: no Dagster, no assets (docs/architecture.md#layers)."""

from __future__ import annotations

import subprocess
import sys


def test_the_writers_never_import_dagster_or_the_assets_package() -> None:
    code = (
        "import sys, reverse_etl.writers.payloads, reverse_etl.writers.xero, reverse_etl.writers.capsule; "
        "print(sorted(m for m in ('dagster', 'assets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

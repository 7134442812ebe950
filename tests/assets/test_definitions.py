"""The Dagster code location loads as `dagster dev` would, with no credential set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]


def test_the_code_location_loads_with_no_credentials(monkeypatch) -> None:
    for name in ("CAPSULE_API_TOKEN", "XERO_CLIENT_ID", "XERO_CLIENT_SECRET", "XERO_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    from assets.definitions import defs

    dg.Definitions.validate_loadable(defs())


# Imports every module of the code location as `dagster dev` and every run worker do, watching the
# environment: no setting may be read, and no file made, until the location is loaded (`defs()`).
IMPORT_PROBE = r"""
import importlib, json, os, pkgutil

class Watched(dict):
    read = []
    def _saw(self, key):
        if isinstance(key, str) and key.startswith(("CAPSULE_", "XERO_", "WEBHOOK_")):
            Watched.read.append(key)
    def __getitem__(self, key):
        self._saw(key)
        return super().__getitem__(key)
    def get(self, key, default=None):
        self._saw(key)
        return super().get(key, default)
    def __contains__(self, key):
        self._saw(key)
        return super().__contains__(key)

os.environ = Watched(os.environ)
# Settings are read through pydantic-settings, which copies the whole environment (as libraries such
# as platform and fsspec also do at import): count the settings built, on top of the reads seen.
import capsule_xero.settings as settings_module
built = []
original_init = settings_module._Environment.__init__
def counting_init(self, *args, **kwargs):
    built.append(1)
    original_init(self, *args, **kwargs)
settings_module._Environment.__init__ = counting_init
import assets
for module in pkgutil.walk_packages(assets.__path__, "assets."):
    importlib.import_module(module.name)
on_import = sorted(set(Watched.read)) + ["Settings"] * len(built)
home_on_import = os.path.exists(os.environ["HOME_TO_WATCH"])
import assets.definitions
assets.definitions.defs()
print(json.dumps({"on_import": on_import, "home_on_import": home_on_import, "settings_on_load": len(built)}))
"""


def test_importing_the_code_location_reads_no_setting_and_creates_no_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = os.environ | {
        "CAPSULE_XERO_HOME": str(home),
        "HOME_TO_WATCH": str(home),
        "CAPSULE_POLL_SECONDS": "30",
    }
    probe = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], env=env, cwd=REPO, capture_output=True, text=True, timeout=240
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen["on_import"] == [] and not seen["home_on_import"]
    assert seen["settings_on_load"] >= 1  # loading reads the settings: the watch sees them being read


def test_a_fresh_install_runs_the_nightly_reconciliation_and_every_sensor_until_a_person_stops_one() -> None:
    """What a new Dagster instance shows before anyone touched a toggle (Dagster keeps no state for an
    instigator until someone starts or stops it, so ``default_status`` is what runs)."""
    from assets.definitions import defs

    repository = defs().get_repository_def()
    statuses = {s.name: s.default_status.value for s in repository.schedule_defs} | {
        s.name: s.default_status.value for s in repository.sensor_defs
    }
    assert statuses == {
        "nightly_reconciliation_schedule": "RUNNING",
        "capsule_changes_sensor": "RUNNING",
        "webhook_events_sensor": "RUNNING",
        "alerts_sensor": "RUNNING",
        "alert_on_failed_run": "RUNNING",
        "xero_daily_limit_sensor": "RUNNING",
    }

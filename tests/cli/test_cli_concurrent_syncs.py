"""Two real ``capsule-xero sync --apply`` processes started at once on one home (issue 11, item 6).

Before, they shared dlt's load folder and the DuckDB file: one or both died with a traceback
(``LoadPackageNotFound``, ``FileNotFoundError``, a lock error blamed on "credentials"). Now the second
waits for the first, or says plainly that another sync is running; either way both end cleanly and
Xero gets each contact once.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from sandbox.control import SandboxControl
from sandbox.generator import generate
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl

pytestmark = pytest.mark.slow  # two real processes, a small migration each

ROOT = Path(__file__).resolve().parents[2]
CAPSULE_XERO = Path(sys.executable).parent / "capsule-xero"
NO_APPROVAL_RULES = """\
approval:
  max_operations: 100000
  archives_need_approval: false
  first_migration_needs_approval: false
"""


def test_two_syncs_with_apply_at_once_on_one_home_both_end_cleanly_and_xero_gets_each_contact_once(
    server: SandboxServer, tmp_path: Path
) -> None:
    server.call(lambda: server.sandbox.load(generate(parties=80, seed=21)))
    rules = tmp_path / "capsule-xero.yaml"
    rules.write_text(NO_APPROVAL_RULES)
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path),
        "COLUMNS": "200",
        **server.env(),
        "CAPSULE_XERO_HOME": str(tmp_path / "home"),
        "CAPSULE_XERO_CONFIG": str(rules),
    }
    login(
        XeroAuth(Settings.from_env(env)),
        choose_tenant=lambda c: c[0],
        open_url=lambda u: httpx.get(u, follow_redirects=True),
    )
    with XeroControl(server.xero_url) as xero:
        contacts_before = len(xero.contacts())

    syncs = [
        subprocess.Popen(
            [str(CAPSULE_XERO), "sync", "--apply"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    ended = [(sync.pid, *sync.communicate(timeout=240), sync.returncode) for sync in syncs]

    for pid, out, err, code in ended:
        assert "Traceback" not in out + err, out + err
        assert code in (0, 1), out + err
        if code == 1:
            other = next(p for p, *_ in ended if p != pid)
            assert "Another sync is running" in out and f"PID {other}" in out, out + err
    assert any(code == 0 for *_, code in ended), ended
    with XeroControl(server.xero_url) as xero:
        contacts = xero.contacts()
    numbers = Counter(c.get("ContactNumber") for c in contacts if c.get("ContactNumber"))
    assert {number: n for number, n in numbers.items() if n > 1} == {}
    control = SandboxControl(server.xero_url)
    try:
        creates = [
            c for c in control.calls("xero") if c["method"] == "PUT" and c["path"] == "/api.xro/2.0/Contacts"
        ]
    finally:
        control.close()
    # Every new contact sent once, by one of the two runs: as many sent as Xero now has new.
    assert len(contacts) > contacts_before
    assert sum(c["batch_size"] or 0 for c in creates) == len(contacts) - contacts_before

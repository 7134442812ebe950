"""`capsule-xero sandbox` as a new user runs it: both APIs served with data to browse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent / "capsule-xero"


@pytest.fixture
def running_sandbox(tmp_path: Path) -> Iterator[tuple[dict[str, str], subprocess.Popen[str]]]:
    env = {**os.environ, "CAPSULE_XERO_HOME": str(tmp_path), "COLUMNS": "200"}
    process = subprocess.Popen(
        [str(BIN), "sandbox", "--parties", "300", "--seed", "5", "--xero-port", "0", "--capsule-port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    env_file = tmp_path / "sandbox.env"
    deadline = time.monotonic() + 60
    while not env_file.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert env_file.exists(), "the sandbox never wrote its environment file"
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    yield values, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(10)


def test_the_sandbox_serves_capsule_and_xero_data_a_person_can_browse(
    running_sandbox: tuple[dict[str, str], subprocess.Popen[str]],
) -> None:
    env, _ = running_sandbox
    capsule = httpx.get(
        f"{env['CAPSULE_API_URL']}/parties",
        params={"perPage": 5, "embed": "tags,fields"},
        headers={"Authorization": f"Bearer {env['CAPSULE_API_TOKEN']}"},
        timeout=10,
    )
    assert capsule.status_code == 200 and len(capsule.json()["parties"]) == 5
    assert 'rel="next"' in capsule.headers["Link"]

    # The steps the command prints for Xero: a token, the organisation, then contacts.
    base = env["XERO_IDENTITY_URL"]
    token = httpx.post(f"{base}/_sandbox/xero/tokens", timeout=10).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    tenant = httpx.get(env["XERO_CONNECTIONS_URL"], headers=auth, timeout=10).json()[0]["tenantId"]
    contacts = httpx.get(
        f"{env['XERO_API_URL']}/Contacts",
        params={"page": 1, "pageSize": 5},
        headers=auth | {"xero-tenant-id": tenant, "Accept": "application/json"},
        timeout=10,
    )
    assert contacts.status_code == 200 and len(contacts.json()["Contacts"]) == 5


def test_the_sandbox_prints_the_environment_lines_and_stops_cleanly_on_ctrl_c(
    running_sandbox: tuple[dict[str, str], subprocess.Popen[str]],
) -> None:
    env, process = running_sandbox
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=15)
    for key in (
        "CAPSULE_API_URL",
        "CAPSULE_API_TOKEN",
        "XERO_API_URL",
        "XERO_IDENTITY_URL",
        "XERO_CLIENT_ID",
    ):
        assert f"export {key}={env[key]}" in output
    assert "127.0.0.1" in env["XERO_API_URL"] and "Try it with curl" in output
    assert process.returncode == 0

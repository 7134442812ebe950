"""A real browser on the real Dagster UI: the demo's data, one sync materialised by a click.

`make test` installs Debian's chromium (Playwright's own browser download cannot run here); the
Python playwright package drives it. The test starts what a user starts — `capsule-xero demo` (the
stand-ins with a generated world, migrated) and `capsule-xero ui` (`dagster dev` on the same
CAPSULE_XERO_HOME) — adds a company in the Capsule stand-in, and then, in the browser, opens
incremental_sync_job, presses "Materialize all", follows the run and reads its result and checks.

A second test reads a waiting plan (an archive) on the writer asset's page, launches
approve_and_apply_plan from the Launchpad with the plan's number and hash, follows the run to success
and finds the contacts in the Xero stand-in. It writes a screenshot of each step to
``$CAPSULE_XERO_SCREENSHOTS`` (default ``tests/ui/screenshots/``, kept out of git) for a person to look at.

The polling sensor and the nightly schedule run from a fresh install (no toggle): the sensor asks
Capsule as soon as the daemon starts, finds the demo's changes and starts a sync. The fixture waits
for that run to end, and the UI runs with CAPSULE_POLL_SECONDS at an hour, so the sensor does not
ask again while the test clicks: the run the button starts is the only run, as the test reads it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from assets.queues import QUEUES
from sandbox.capsule.control import CapsuleControl
from sandbox.xero.control import XeroControl

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CLI = Path(sys.executable).parent / "capsule-xero"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--no-first-run",
    # The machine's network is closed: without these Chromium keeps dialling Google's services.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PARTIES = 120
STARTUP_SECONDS = 300
RUN_SECONDS = 300
POLL_SECONDS = 3600  # one sensor check when the daemon starts, none while the test clicks
LOCATION = {"repositoryLocationName": "assets.definitions", "repositoryName": "__repository__"}
SENSOR_RUNS = """
query SensorRuns {
  runsOrError(filter: {tags: [{key: "capsule_xero/trigger", value: "capsule_changes_sensor"}]}) {
    ... on Runs { results { runId status } }
  }
}"""
INSTIGATOR_STATES = """
query States($sensor: SensorSelector!, $schedule: ScheduleSelector!) {
  sensorOrError(sensorSelector: $sensor) { ... on Sensor { sensorState { status } } }
  scheduleOrError(scheduleSelector: $schedule) { ... on Schedule { scheduleState { status } } }
}"""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
SCREENSHOTS = Path(os.environ.get("CAPSULE_XERO_SCREENSHOTS") or Path(__file__).parent / "screenshots")


@dataclass
class RunningDemo:
    home: Path
    env: dict[str, str]
    ui_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop a process started in its own session, with everything it started (dagster dev's daemon,
    code server and run workers ignore a polite stop for a while)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


def _wait_for(condition, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no output)"
    pytest.fail(f"{what} did not happen within {seconds:.0f} s; the output ends:\n{tail}")


def _ui_answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/server_info", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]


def _sensor_runs(url: str) -> list[dict]:
    try:
        return _graphql(url, SENSOR_RUNS)["runsOrError"].get("results") or []
    except httpx.HTTPError:
        return []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    root = tmp_path_factory.mktemp("ui")
    base_env = {**os.environ, "CAPSULE_XERO_HOME": str(root), "NO_COLOR": "1", "COLUMNS": "160"}
    demo_log = root / "demo.log"
    ui_log = root / "ui.log"
    with open(demo_log, "wb") as out:
        demo_process = subprocess.Popen(
            [str(CLI), "demo", "--parties", str(DEMO_PARTIES), "--port", "0"],
            env=base_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ui_process: subprocess.Popen | None = None
    try:
        _wait_for(
            lambda: "keep running" in demo_log.read_text(errors="replace"),
            STARTUP_SECONDS,
            "the demo's sync",
            demo_log,
        )
        home = root / "demo"
        sandbox_env = dict(
            line.split("=", 1) for line in (home / "sandbox.env").read_text().splitlines() if "=" in line
        )
        env = {
            **base_env,
            **sandbox_env,
            "CAPSULE_XERO_APPLY": "true",
            "CAPSULE_POLL_SECONDS": str(POLL_SECONDS),
        }
        port = _free_port()
        with open(ui_log, "wb") as out:
            ui_process = subprocess.Popen(
                [str(CLI), "ui", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        _wait_for(lambda: _ui_answers(url), STARTUP_SECONDS, "the Dagster UI answering", ui_log)
        # The polling sensor is on from the start: its first check starts a sync of the demo's changes.
        _wait_for(
            lambda: any(run["status"] in FINISHED for run in _sensor_runs(url)),
            STARTUP_SECONDS + RUN_SECONDS,
            "the polling sensor's first sync, started without anyone turning the sensor on",
            ui_log,
        )
        yield RunningDemo(home, env, url)
    finally:
        if ui_process is not None:
            _stop(ui_process)
        _stop(demo_process)


@pytest.fixture
def page() -> Iterator[Page]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            # Dagster's first visit asks to join its community in a modal over the page.
            page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
            yield page
        finally:
            browser.close()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _materialise_sync(page: Page, ui_url: str) -> tuple[str, list[str]]:
    """Press "Materialize all" on incremental_sync_job; (the run's end state, its checks' sentences)."""
    page.goto(f"{ui_url}/locations/assets.definitions/jobs/incremental_sync_job")
    page.get_by_role("button", name="Materialize all").click()
    launched = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
    expect(launched).to_be_visible(timeout=60_000)
    match = re.search(r"[0-9a-f]{8}", launched.inner_text())
    assert match is not None
    run_id = match.group(0)

    page.goto(f"{ui_url}/runs")
    page.get_by_role("link", name=run_id).first.click()
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}"))
    header = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
    expect(header).to_be_visible(timeout=RUN_SECONDS * 1000)

    page.get_by_placeholder("Filter…").fill("type:ASSET_CHECK_EVALUATION")
    checks = page.get_by_text(re.compile(r"^Check \w+ (succeeded|failed) for materialization of"))
    expect(checks.first).to_be_visible(timeout=30_000)
    return header.inner_text(), checks.all_inner_texts()


def _passed(checks: list[str]) -> bool:
    # The queue checks WARN while the demo's review queue or quarantine holds something (assets/queues.py):
    # a person's to-do, not a failed check.
    checked = [check for check in checks if not any(f"Check {name} " in check for name in QUEUES)]
    return bool(checked) and all(" succeeded for materialization of" in check for check in checked)


def test_a_sync_materialised_in_the_dagster_ui_succeeds_with_its_checks_passing_and_reaches_xero(
    demo: RunningDemo, page: Page, tmp_path: Path
) -> None:
    name = "Wattle Browser Test Pty Ltd"
    with contextlib.closing(CapsuleControl(_origin(demo.env["CAPSULE_API_URL"]))) as capsule:
        party = capsule.create_party({"type": "organisation", "name": name})
        # A name Xero would show as markup: the sync leaves it to a person, in the review queue.
        held = capsule.create_party({"type": "organisation", "name": "Review <Browser> Pty Ltd"})

    try:
        state, checks = _materialise_sync(page, demo.ui_url)
        assert state == "Success", f"the sync run ended {state}"
        assert _passed(checks), checks
        assert any("planned_operations_are_writes_xero_accepts" in check for check in checks), checks
        _review_queue_warns_with_its_rows(page, demo.ui_url, held["id"])
        # And again with nothing left to write: an idle sync is a success too, not a failed check.
        state, checks = _materialise_sync(page, demo.ui_url)
        assert state == "Success", f"the idle sync run ended {state}"
        assert _passed(checks), checks
    except BaseException:
        page.screenshot(path=str(tmp_path / "dagster-ui.png"))
        print(f"screenshot of the UI at the failure: {tmp_path / 'dagster-ui.png'}")
        raise

    with XeroControl(_origin(demo.env["XERO_IDENTITY_URL"])) as xero:
        contact = xero.contact(f"CAP-{party['id']}")
    assert contact["Name"] == name
    assert contact["ContactStatus"] == "ACTIVE"


def test_a_fresh_install_polls_capsule_and_schedules_the_nightly_reconciliation_with_no_toggle(
    demo: RunningDemo,
) -> None:
    states = _graphql(
        demo.ui_url,
        INSTIGATOR_STATES,
        {
            "sensor": {**LOCATION, "sensorName": "capsule_changes_sensor"},
            "schedule": {**LOCATION, "scheduleName": "nightly_reconciliation_schedule"},
        },
    )
    assert states["sensorOrError"]["sensorState"]["status"] == "RUNNING"
    assert states["scheduleOrError"]["scheduleState"]["status"] == "RUNNING"
    # The sensor's first check found the demo's Capsule changes and its sync succeeded, once.
    assert [run["status"] for run in _sensor_runs(demo.ui_url)] == ["SUCCESS"]


def _review_queue_warns_with_its_rows(page: Page, ui_url: str, party_id: int) -> None:
    """The review queue's check on reports/views shows a warning, what settles it and its sample rows."""
    page.goto(f"{ui_url}/assets/reports/views?view=checks")
    page.get_by_text("review_queue_is_empty").first.click()
    expect(page.get_by_text(re.compile(r"waits? for a person in the review queue")).first).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_text(str(party_id)).first).to_be_visible()
    _screenshot(page, "0-review-queue-warning")


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _a_contact_xero_lets_archive(xero: XeroControl) -> dict:
    """An active contact the demo synced from Capsule that no repeating invoice holds (Xero refuses
    to archive those)."""
    on_repeating_invoices = str(xero.repeating_invoices())
    return next(
        contact
        for contact in xero.contacts()
        if (contact.get("ContactNumber") or "").startswith("CAP-")
        and contact["ContactStatus"] == "ACTIVE"
        and contact["ContactID"] not in on_repeating_invoices
    )


def _launch_approval(page: Page, ui_url: str, plan: int, plan_hash: str) -> str:
    """Fill the Launchpad of approve_and_apply_plan as a person types it, launch; the run's end state."""
    page.goto(f"{ui_url}/locations/assets.definitions/jobs/approve_and_apply_plan/playground")
    editor = page.locator(".CodeMirror").first
    expect(editor).to_be_visible(timeout=60_000)
    editor.click()
    page.keyboard.press("Control+A")
    # Flow style on one line: the editor's auto-indent cannot change its meaning.
    page.keyboard.insert_text(
        f"ops: {{approve_and_apply: {{config: {{plan: {plan}, plan_hash: '{plan_hash}',"
        " approved_by: 'Browser Test'}}}"
    )
    _screenshot(page, "3-launchpad")
    page.get_by_role("button", name="Launch Run").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]+"), timeout=60_000)
    header = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
    expect(header).to_be_visible(timeout=RUN_SECONDS * 1000)
    _screenshot(page, "4-approval-run")
    return header.inner_text()


def test_a_waiting_plan_is_read_on_the_writer_asset_approved_from_the_launchpad_and_reaches_xero(
    demo: RunningDemo, page: Page
) -> None:
    name = "Waratah Launchpad Test Pty Ltd"
    with XeroControl(_origin(demo.env["XERO_IDENTITY_URL"])) as xero:
        gone = _a_contact_xero_lets_archive(xero)
    with contextlib.closing(CapsuleControl(_origin(demo.env["CAPSULE_API_URL"]))) as capsule:
        capsule.delete_party(int(gone["ContactNumber"].removeprefix("CAP-")))  # an archive: the plan waits
        party = capsule.create_party({"type": "organisation", "name": name})

    try:
        state, _checks = _materialise_sync(page, demo.ui_url)
        assert state == "Success", f"the sync run ended {state}"
        _screenshot(page, "1-sync-run")

        page.goto(f"{demo.ui_url}/assets/reverse_etl/xero_contacts_written")
        waits = page.get_by_text(re.compile(r"^Plan \d+ waits for a person because of"))
        expect(waits).to_be_visible(timeout=60_000)
        text = waits.inner_text()
        assert "archive (approval.archives_need_approval)" in text, text
        plan_id = int(re.search(r"^Plan (\d+)", text).group(1))  # type: ignore[union-attr]
        plan_hash = re.search(r"plan_hash: ([0-9a-f]{64})", text).group(1)  # type: ignore[union-attr]
        # The operations table, one row per contact: the new company to create, the deleted one to archive.
        # (.last: the table's own row, inside the metadata table's row that holds the whole table.)
        created = page.get_by_role("row").filter(has_text=f"CAP-{party['id']} {name}").last
        expect(created).to_contain_text("→ Xero create")
        archived = page.get_by_role("row").filter(has_text=gone["ContactNumber"]).last
        expect(archived).to_contain_text("→ Xero archive")
        expect(archived).to_contain_text("deleted in Capsule")
        created.scroll_into_view_if_needed()  # the page scrolls inside its own pane: bring the table in
        _screenshot(page, "2-writer-asset-plan")

        assert _launch_approval(page, demo.ui_url, plan_id, plan_hash) == "Success"
        expect(page.get_by_text(f"Plan {plan_id} approved and applied by run")).to_be_visible()
    except BaseException:
        _screenshot(page, "failure")
        print(f"screenshots of the UI: {SCREENSHOTS}")
        raise

    with XeroControl(_origin(demo.env["XERO_IDENTITY_URL"])) as xero:
        assert xero.contact(f"CAP-{party['id']}")["Name"] == name
        assert xero.contact(gone["ContactNumber"])["ContactStatus"] == "ARCHIVED"

"""Every value from Capsule or Xero is shown as it is: never read as rich markup, emoji codes or terminal codes.

Hostile names go into the Capsule stand-in, through a real ``sync``, and are read back through
``report``, ``plan`` and ``status``: the reviewer must see exactly the text Xero would get.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import httpx
import pytest
from typer.testing import CliRunner, Result

from capsule_xero.display import literal, spell_out
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from cli import app as cli
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.server import SandboxServer

# Names as a user could type them in Capsule. The first four must reach the screen character for
# character; in the last three the control characters must be spelt out (``\x1b``), never sent raw.
MARKUP_NAMES = [
    "Acme [/bold] Pty Ltd",  # a closing tag with nothing open: rich's MarkupError
    "[link=https://evil.example/pay]Trusted Bank[/link] Pty Ltd",  # a hidden hyperlink
    "[red on red]Hidden[/red on red] Traders",  # invisible text
    "Thumbs :thumbs_up: Pty Ltd",  # an emoji code
]
CONTROL_NAMES = [
    "Escape \x1b[2J\x1b]8;;https://evil.example\x07Co Pty Ltd",  # clear screen, an OSC 8 hyperlink
    "Csi \x9b31m Holdings",  # a C1 control: CSI in one byte
    "Right \u202eLtd ytP\u202c Tools",  # a bidi override shows "Ltd ytP" as "Pty Ltd"
]
HOSTILE_NAMES = MARKUP_NAMES + CONTROL_NAMES
RAW_CONTROLS = ("\x1b", "\x9b", "\x07", "\u202e", "\u202c")


@pytest.fixture(scope="module")
def hostile_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A Capsule account holding only the hostile organisations, synced once (the plan waits).

    One world for the module (a sync takes seconds); the tests only read it, except the error queue
    rows the status test adds, which no other test looks at.
    """
    home = tmp_path_factory.mktemp("hostile")
    with SandboxServer(Sandbox(seed=7)) as server, pytest.MonkeyPatch.context() as patch:
        for key, value in (server.env() | {"CAPSULE_XERO_HOME": str(home / "home")}).items():
            patch.setenv(key, value)
        patch.delenv("CAPSULE_XERO_CONFIG", raising=False)
        patch.setenv("COLUMNS", "250")  # keep rich from wrapping the lines the tests read
        patch.chdir(home)
        capsule = CapsuleControl(server.capsule_url)
        try:
            for name in HOSTILE_NAMES:
                capsule.create_party({"type": "organisation", "name": name})
        finally:
            capsule.close()
        settings = Settings.from_env()
        login(
            XeroAuth(settings),
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True),
        )
        synced = run("sync")
        assert synced.exit_code == 0, synced.output
        assert_no_raw_control(synced.output)
        yield settings


def run(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


def assert_no_raw_control(output: str) -> None:
    for raw in RAW_CONTROLS:
        assert raw not in output, f"{raw!r} reached the terminal"


def report_names(settings: Settings, report: str) -> list[str]:
    """The names the report holds (whatever normalising the sync did to them)."""
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return [row[0] for row in con.table(f"reports.{report}").select("name").fetchall()]


@pytest.mark.parametrize("report", ["only_in_capsule", "pending_changes"])
def test_a_report_shows_names_with_markup_emoji_codes_and_terminal_codes_as_typed(
    hostile_world: Settings, report: str
) -> None:
    result = run("report", report)
    assert result.exit_code == 0, result.output
    names = report_names(hostile_world, report)
    assert set(MARKUP_NAMES) <= set(names)
    for name in names:
        assert spell_out(name) in result.output, f"{name!r} not shown as typed in:\n{result.output}"
    assert_no_raw_control(result.output)


def test_the_plan_shows_hostile_names_as_typed_and_its_json_carries_them_exactly(
    hostile_world: Settings,
) -> None:
    as_json = run("plan", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert_no_raw_control(as_json.output)
    names = [op["name"] for op in json.loads(as_json.output)["operations"]]  # what Xero would get
    assert set(MARKUP_NAMES) <= set(names) and len(names) == len(HOSTILE_NAMES)

    result = run("plan")
    assert result.exit_code == 0, result.output
    for name in names:  # quoted as JSON strings, other hidden characters spelt out
        assert spell_out(json.dumps(name, ensure_ascii=False)) in result.output, result.output
    assert '"Acme [/bold] Pty Ltd"' in result.output
    assert_no_raw_control(result.output)


def test_status_shows_xeros_reason_in_the_error_queue_as_typed(hostile_world: Settings) -> None:
    now = datetime.now(UTC)
    reasons = list(HOSTILE_NAMES)
    with duckdb.connect(str(hostile_world.duckdb_path)) as con:
        con.execute(
            "create table if not exists ledger.error_queue (party_id bigint primary key, contact_id varchar,"
            " plan_id bigint, seq integer, operation varchar, error_kind varchar, message varchar,"
            " attempts integer, first_failed_at timestamptz, next_attempt_at timestamptz, state varchar)"
        )
        for party_id, reason in enumerate(reasons, start=900):
            con.execute(
                "insert into ledger.error_queue values (?, ?, 1, 1, 'create', 'refused', ?, 5, ?, null, 'dead')",
                [party_id, f"[bold]c-{party_id}[/bold]", reason, now - timedelta(days=1)],
            )
    result = run("status")
    assert result.exit_code == 0, result.output
    for reason in HOSTILE_NAMES:
        assert spell_out(reason) in result.output, f"{reason!r} not shown as typed in:\n{result.output}"
    assert "Escape \\x1b[2J\\x1b]8;;https://evil.example\\x07Co Pty Ltd" in result.output
    assert_no_raw_control(result.output)
    assert "(Xero [bold]c-900[/bold])" in result.output


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain text, Zoë & Café", "plain text, Zoë & Café"),
        ("tab\tand\nnewline", "tab\\tand\\nnewline"),
        ("\x00nul \x7fdel \x85nel", "\\x00nul \\x7fdel \\x85nel"),
        ("\u2066isolate\u2069 \u200bzero width \ufeff", "\\u2066isolate\\u2069 \\u200bzero width \\ufeff"),
        ("[b]not bold[/b] :smile:", "[b]not bold[/b] :smile:"),
    ],
)
def test_a_value_is_shown_with_every_control_character_spelt_out(value: str, shown: str) -> None:
    text = literal(value)
    assert text.plain == shown
    assert not text.spans  # no style hidden in it

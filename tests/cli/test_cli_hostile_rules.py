"""`capsule-xero sync` with a hostile or broken rules file: one clear refusal, at once, before any work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app as cli


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path / "home"))
    # Nothing is reachable here: a sync that got past the rules file would fail on its reads instead.
    monkeypatch.setenv("CAPSULE_API_URL", "http://127.0.0.1:9/api/v2")
    monkeypatch.setenv("XERO_API_URL", "http://127.0.0.1:9/api.xro/2.0")
    return tmp_path


def _rules(home: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = home / "capsule-xero.yaml"
    path.write_text(text)
    monkeypatch.setenv("CAPSULE_XERO_CONFIG", str(path))
    return path


@pytest.mark.timeout(60)
def test_sync_refuses_a_small_file_of_nested_anchors_at_once_instead_of_hanging(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]
    path = _rules(home, monkeypatch, "\n".join(lines) + "\n")
    started = time.perf_counter()
    result = CliRunner().invoke(cli.app, ["sync"])
    assert time.perf_counter() - started < 5
    assert result.exit_code == 2, result.output
    assert f"{path} line 5: more than 20,000 values once the aliases (*name) are expanded" in result.output
    assert "Reading Capsule" not in result.output


def test_sync_lists_the_first_problems_of_a_file_with_thousands_and_says_how_many_more(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _rules(home, monkeypatch, "transforms:\n" + "  - {field: nmae, op: trim}\n" * 90)
    result = CliRunner().invoke(cli.app, ["sync"])
    assert result.exit_code == 2
    shown = [line for line in result.output.splitlines() if "transforms[" in line]
    assert len(shown) == 20
    assert "… and 70 more problems" in result.output


def test_an_error_about_a_huge_value_shows_only_its_start(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _rules(home, monkeypatch, f"transforms:\n  - {{field: name, op: suffix, value: {'x' * 5_000_000}}}\n")
    result = CliRunner().invoke(cli.app, ["sync"])
    assert result.exit_code == 2
    assert len(result.output) < 2_000
    assert "passes 100,000 characters" in result.output

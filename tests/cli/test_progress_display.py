"""On a terminal, each stage is a progress bar carrying its calls, the calls left and the ETA."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import cli.progress
from capsule_xero.progress import APPLY_STAGES, Progress
from cli.progress import ProgressDisplay


def test_on_a_terminal_each_stage_is_a_bar_with_its_calls_the_calls_left_today_and_the_eta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=200, color_system=None)
    monkeypatch.setattr(cli.progress, "console", terminal)
    with ProgressDisplay(APPLY_STAGES) as shown:
        shown(Progress("contacts", 0, 4, calls_used=0, calls_left=980, eta_seconds=240.0, unit="batches"))
        shown(Progress("contacts", 4, 4, calls_used=4, calls_left=976, eta_seconds=0.0, unit="batches"))
        shown(
            Progress("write_back", 2, 10, calls_used=6, calls_left=3990, period="this hour", eta_seconds=3.0)
        )
    text = screen.getvalue()
    assert shown.bars is not None  # a terminal: bars, not plain lines
    assert "Writing contacts (batches of ≤ 50)" in text and "4/4" in text
    assert "4 calls, 976 calls left today, ETA done" in text
    assert "Writing ContactIDs to Capsule" in text and "3,990 calls left this hour, ETA 3s" in text

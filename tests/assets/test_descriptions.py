"""Every asset, check, job, schedule and sensor the Dagster UI lists says what it is in words a
bookkeeper reads, and links the page of docs/ (and the section in it) that explains it, so the UI
never leaves a person with a bare name. A link whose page or section is gone fails here."""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Iterator
from functools import cache
from itertools import pairwise
from pathlib import Path

import dagster as dg
import pytest
from markdown_it import MarkdownIt

from assets.definitions import defs

DOCS = Path(__file__).resolve().parents[2] / "docs"
# "docs/operations.md#the-error-queue": a page of docs/ and a section in it.
DOCS_LINK = re.compile(r"docs/([A-Za-z0-9_-]+\.md)(?:#([A-Za-z0-9_-]+))?")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = unicodedata.normalize("NFKC", heading).strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


@cache
def anchors(page: str) -> frozenset[str]:
    """The sections of ``docs/<page>`` (headings outside code blocks), as anchors."""
    tokens = MarkdownIt().parse((DOCS / page).read_text(encoding="utf-8"))
    return frozenset(
        github_anchor(
            "".join(child.content for child in (inline.children or []) if child.type != "softbreak")
        )
        for heading, inline in pairwise(tokens)
        if heading.type == "heading_open"
    )


def link_problem(description: str | None) -> str | None:
    """Why ``description`` does not link a section of docs/, or ``None`` when it does."""
    if not (description or "").strip():
        return "no description"
    links = DOCS_LINK.findall(description or "")
    if not links:
        return "no link to a page of docs/ (e.g. docs/operations.md#the-error-queue)"
    for page, anchor in links:
        if not (DOCS / page).is_file():
            return f"docs/{page} does not exist"
        if not anchor:
            return f"docs/{page} is linked without a section (#anchor)"
        if anchor not in anchors(page):
            return f"docs/{page} has no section #{anchor}"
    return None


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return defs().get_repository_def()


def problems(described: Iterator[tuple[str, str | None]]) -> list[str]:
    return [f"{name}: {problem}" for name, text in described if (problem := link_problem(text))]


def test_the_anchors_read_from_docs_are_githubs() -> None:
    assert github_anchor("Dagster: assets, checks, jobs, schedules, sensors") == (
        "dagster-assets-checks-jobs-schedules-sensors"
    )
    assert github_anchor('The "Xero Contact ID" custom field') == "the-xero-contact-id-custom-field"
    assert "the-error-queue" in anchors("operations.md")
    assert link_problem("See docs/operations.md#the-error-queue.") is None
    assert (
        link_problem("See docs/operations.md#no-such-section.")
        == "docs/operations.md has no section #no-such-section"
    )
    assert link_problem("See docs/nowhere.md#x.") == "docs/nowhere.md does not exist"
    assert link_problem("Reads Capsule.") is not None


def test_every_asset_in_the_ui_says_what_it_is_and_links_its_section_of_the_docs(
    repository: dg.RepositoryDefinition,
) -> None:
    nodes = repository.asset_graph.asset_nodes
    assert len(nodes) > 40
    assert problems((node.key.to_user_string(), node.description) for node in nodes) == []


def test_every_asset_check_in_the_ui_says_what_it_checks_and_links_its_section_of_the_docs(
    repository: dg.RepositoryDefinition,
) -> None:
    graph = repository.asset_graph
    keys = graph.asset_check_keys
    assert len(keys) >= 9
    assert problems((key.to_user_string(), graph.get_check_spec(key).description) for key in keys) == []


def test_every_job_and_schedule_in_the_ui_says_what_it_does_and_links_its_section_of_the_docs(
    repository: dg.RepositoryDefinition,
) -> None:
    # __ASSET_JOB is Dagster's own hidden job for materialising a selection by hand.
    jobs = [job for job in repository.get_all_jobs() if not job.name.startswith("__")]
    assert len(jobs) >= 3 and repository.schedule_defs
    described = [(job.name, job.description) for job in jobs]
    described += [(schedule.name, schedule.description) for schedule in repository.schedule_defs]
    assert problems(iter(described)) == []


def test_every_sensor_in_the_ui_says_what_it_watches_and_links_its_section_of_the_docs(
    repository: dg.RepositoryDefinition,
) -> None:
    assert len(repository.sensor_defs) >= 4
    assert problems((sensor.name, sensor.description) for sensor in repository.sensor_defs) == []

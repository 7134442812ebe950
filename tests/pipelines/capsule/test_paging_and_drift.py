"""Capsule's paging quirks, and schema drift that is recorded and reported instead of failing a run."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import requests

from capsule_xero.settings import Settings
from pipelines.capsule import CapsuleExtract
from pipelines.capsule.helpers import CapsulePaginator, has_next_page, make_client
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset
from sandbox.server import SandboxServer
from tests.pipelines.capsule.conftest import capsule_calls, fast_pacer, query

BASE = "https://api.capsulecrm.com/api/v2/parties"


def _answer(link: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    if link is not None:
        response.headers["Link"] = link
    return response


def test_a_link_header_whose_urls_hold_raw_commas_is_split_correctly() -> None:
    both = (
        f'<{BASE}?since=2025-07-01T00:00:00Z&perPage=3&page=1&embed=tags,fields>; rel="prev", '
        f'<{BASE}?since=2025-07-01T00:00:00Z&perPage=3&page=3&embed=tags,fields>; rel="next"'
    )
    response = _answer(both)
    assert response.links["next"]["url"].endswith("page=3&embed=tags,fields")
    assert response.links["prev"]["url"].endswith("page=1&embed=tags,fields")
    assert has_next_page(response)
    assert not has_next_page(_answer(f'<{BASE}?perPage=3&page=1&embed=tags,fields>; rel="prev"'))
    assert not has_next_page(_answer(None))


def test_the_paginator_asks_for_the_next_page_itself_and_stops_on_an_empty_page() -> None:
    request = requests.Request("GET", BASE, params={"embed": "tags,fields", "since": "2025-07-01T00:00:00Z"})
    paginator = CapsulePaginator()
    paginator.init_request(request)
    assert request.params == {
        "embed": "tags,fields",
        "since": "2025-07-01T00:00:00Z",
        "page": 1,
        "perPage": 100,
    }
    paginator.update_state(_answer(f'<{BASE}?page=2&somewhere=else>; rel="next"'), [{"id": 1}])
    paginator.update_request(request)
    assert paginator.has_next_page
    assert request.url == BASE  # the link's URL is not followed: same request, next page
    assert request.params["page"] == 2 and request.params["since"] == "2025-07-01T00:00:00Z"
    paginator.update_state(_answer(f'<{BASE}?page=3>; rel="next"'), [])
    assert not paginator.has_next_page  # an empty page ends paging whatever the header says


def test_every_page_of_an_incremental_read_repeats_since_and_embed(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    server: SandboxServer,
    settings: Settings,
    ctl: CapsuleControl,
) -> None:
    load_world(small_world)
    client = make_client(settings.capsule_api_url, settings.capsule_api_token, fast_pacer())
    seq = ctl.last_seq()
    since = "2000-01-01T00:00:00Z"
    params = {"embed": "tags,fields", "since": since}
    ids = [
        p["id"] for page in client.paginate("/parties", params=params, data_selector="parties") for p in page
    ]
    assert ids == sorted(p["id"] for p in small_world.capsule_parties)
    queries = [parse_qs(c["query"]) for c in capsule_calls(ctl, seq)]
    assert [q["page"] for q in queries] == [["1"], ["2"], ["3"]]
    assert all(
        q["since"] == [since] and q["embed"] == ["tags,fields"] and q["perPage"] == ["100"] for q in queries
    )


def test_a_new_or_retyped_capsule_field_is_loaded_recorded_and_reported_not_fatal(
    small_world: Dataset,
    load_world: Callable[[Dataset], None],
    extract: Callable[..., CapsuleExtract],
    settings: Settings,
    server: SandboxServer,
    sandbox: Sandbox,
) -> None:
    load_world(small_world)
    extract()
    party_id = small_world.capsule_parties[0]["id"]
    opportunity_id = small_world.capsule_opportunities[0]["id"]

    def capsule_adds_and_changes_fields() -> None:
        state = sandbox.capsule
        party = state.parties.get(party_id)
        assert party is not None
        state.parties.put({**party, "loyaltyTier": "gold", "updatedAt": state.now_iso()})
        state.upsert_record("opportunities", opportunity_id, {"probability": "very likely"})

    server.call(capsule_adds_and_changes_fields)
    result = extract()

    found = {(c.table_name, c.column_name, c.data_type, c.kind) for c in result.schema_changes}
    assert found == {
        ("capsule_parties", "loyalty_tier", "text", "new_column"),
        ("capsule_opportunities", "probability__v_text", "text", "type_changed"),
    }
    messages = sorted(c.describe() for c in result.schema_changes)
    assert messages == [
        "Capsule sent a new field, stored as raw.capsule_parties.loyalty_tier (text); the sync does not use it yet.",
        "Capsule sent raw.capsule_opportunities.probability as text (before: another type); "
        "those values are stored in raw.capsule_opportunities.probability__v_text.",
    ]
    assert query(settings, "select loyalty_tier from raw.capsule_parties where id = ?", party_id) == [
        ("gold",)
    ]
    assert query(
        settings,
        "select probability, probability__v_text from raw.capsule_opportunities where id = ?",
        opportunity_id,
    ) == [(None, "very likely")]
    recorded = query(
        settings, "select table_name, column_name, kind, message from raw.capsule_schema_changes order by 1"
    )
    assert [(r[0], r[1], r[2]) for r in recorded] == [
        ("capsule_opportunities", "probability__v_text", "type_changed"),
        ("capsule_parties", "loyalty_tier", "new_column"),
    ]
    assert extract().schema_changes == []  # reported once, when it appeared

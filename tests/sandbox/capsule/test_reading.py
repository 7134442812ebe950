"""Reading: paging, perPage bounds, since, embed gating, show/multi-show, related lists, tasks."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.generator import Dataset
from tests.sandbox.capsule.world import ids_of, make_org, make_person, numbered_world


def _next_link(response: httpx.Response) -> str | None:
    # Split on the <...> targets, not on commas: the target itself may hold one (embed=tags,fields).
    match = re.search(r'<([^>]*)>\s*;\s*rel="next"', response.headers.get("link", ""))
    return match.group(1) if match else None


def test_parties_are_paged_by_id_with_a_next_link_only_while_more_rows_exist(
    api: httpx.Client, load: Callable[[Dataset], None]
) -> None:
    load(numbered_world(23))
    seen: list[int] = []
    pages = []
    for page in (1, 2, 3):
        response = api.get("/parties", params={"perPage": 10, "page": page})
        assert response.status_code == 200
        pages.append(response)
        seen += ids_of(response)
    assert seen == list(range(1000, 1023))
    assert [len(p.json()["parties"]) for p in pages] == [10, 10, 3]
    assert [p.headers["x-pagination-has-more"] for p in pages] == ["true", "true", "false"]
    assert _next_link(pages[0]) is not None and _next_link(pages[1]) is not None
    assert _next_link(pages[2]) is None
    assert 'rel="prev"' in pages[2].headers["link"]  # docs mention prev links; next is absent


def test_the_next_link_repeats_every_parameter_and_uses_the_request_host(
    api: httpx.Client, load: Callable[[Dataset], None]
) -> None:
    load(numbered_world(5))
    url = "/parties?since=2025-01-01T00:00:00Z&perPage=2&page=1&embed=tags,fields"
    response = api.get(url)
    link = _next_link(response)
    assert link is not None
    assert link.startswith(str(api.base_url).rstrip("/") + "/parties?")
    assert link.endswith("?since=2025-01-01T00:00:00Z&perPage=2&page=2&embed=tags,fields")
    followed = api.get(link)
    assert ids_of(followed) == [1002, 1003]


def test_a_missing_page_parameter_is_added_to_the_next_link(
    api: httpx.Client, load: Callable[[Dataset], None]
) -> None:
    load(numbered_world(3))
    link = _next_link(api.get("/parties", params={"perPage": 1}))
    assert link is not None
    assert parse_qs(urlsplit(link).query) == {"perPage": ["1"], "page": ["2"]}


def test_per_page_defaults_to_50(api: httpx.Client, load: Callable[[Dataset], None]) -> None:
    load(numbered_world(120))
    assert len(api.get("/parties").json()["parties"]) == 50
    assert len(api.get("/parties", params={"perPage": 100}).json()["parties"]) == 100


@pytest.mark.parametrize("params", [{"perPage": 0}, {"perPage": 101}, {"perPage": "ten"}, {"page": 0}])
def test_per_page_and_page_out_of_range_are_refused_with_422(
    capsule: httpx.Client, params: dict[str, object]
) -> None:
    response = capsule.get("/parties", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "Validation Failed"
    assert body["errors"][0]["field"] in {"perPage", "page"}


def test_a_page_past_the_end_is_empty(capsule: httpx.Client) -> None:
    response = capsule.get("/parties", params={"page": 9})
    assert response.json() == {"parties": []}
    assert response.headers["x-pagination-has-more"] == "false"


def test_since_returns_only_parties_changed_strictly_after_it(
    api: httpx.Client, load: Callable[[Dataset], None]
) -> None:
    parties = [
        make_org(1, "Early", updated="2025-07-01T00:00:00Z"),
        make_org(2, "Boundary", updated="2025-07-02T00:00:00Z"),
        make_org(3, "Late", updated="2025-07-03T00:00:00Z"),
    ]
    load(Dataset(seed=1, size=3, capsule_parties=parties))
    assert ids_of(api.get("/parties", params={"since": "2025-07-02T00:00:00Z"})) == [3]
    assert ids_of(api.get("/parties", params={"since": "2025-07-01T23:59:59Z"})) == [2, 3]
    assert ids_of(api.get("/parties", params={"since": "2025-07-02T10:00:00+10:00"})) == [3]
    assert ids_of(api.get("/parties", params={"since": "2025-07-01T23:59:59.500Z"})) == [2, 3]
    assert ids_of(api.get("/parties", params={"since": "2025-08-01T00:00:00Z"})) == []


def test_an_unparseable_since_is_a_422(capsule: httpx.Client) -> None:
    response = capsule.get("/parties", params={"since": "last tuesday"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "since"


def test_embedded_keys_are_absent_unless_asked_for(capsule: httpx.Client) -> None:
    bare = capsule.get("/parties/254700101").json()["party"]
    assert not {"tags", "fields", "missingImportantFields"} & set(bare)
    tags_only = capsule.get("/parties/254700101", params={"embed": "tags"}).json()["party"]
    assert "tags" in tags_only and "fields" not in tags_only and "missingImportantFields" not in tags_only
    listed = capsule.get("/parties", params={"embed": "fields"}).json()["parties"]
    assert all("fields" in p and "tags" not in p for p in listed)


def test_embed_organisation_returns_the_full_organisation_on_a_person(capsule: httpx.Client) -> None:
    small = capsule.get("/parties/254700201").json()["party"]["organisation"]
    assert set(small) == {"id", "type", "name", "pictureURL"}
    full = capsule.get("/parties/254700201", params={"embed": "organisation,tags"}).json()["party"]
    assert full["organisation"]["addresses"][0]["city"] == "Marrickville"
    assert "tags" in full["organisation"]


def test_embed_meta_adds_a_total_count(capsule: httpx.Client) -> None:
    body = capsule.get("/parties", params={"embed": "meta", "perPage": 1}).json()
    assert body["meta"] == {"totalCount": 4}


def test_several_parties_can_be_shown_at_once(capsule: httpx.Client) -> None:
    both = capsule.get("/parties/254700101,254700201")
    assert ids_of(both) == [254700101, 254700201]
    assert ids_of(capsule.get("/parties/254700101,999")) == [254700101]
    assert capsule.get("/parties/998,999").status_code == 404
    assert capsule.get("/parties/abc").status_code == 404
    eleven = ",".join(str(254700101 + n) for n in range(11))
    assert capsule.get(f"/parties/{eleven}").status_code == 422


def test_an_organisations_people_are_listed(capsule: httpx.Client) -> None:
    assert ids_of(capsule.get("/parties/254700101/people")) == [254700201]
    assert capsule.get("/parties/254700201/people").status_code == 404


def test_a_partys_opportunities_and_kases_are_listed(capsule: httpx.Client) -> None:
    assert ids_of(capsule.get("/parties/254700101/opportunities"), "opportunities") == [8840011]
    assert ids_of(capsule.get("/parties/254700101/kases"), "kases") == [5590031]


def test_search_matches_names_and_email_addresses(capsule: httpx.Client) -> None:
    assert ids_of(capsule.get("/parties/search", params={"q": "coral coast"})) == [254700103]
    assert ids_of(capsule.get("/parties/search", params={"q": "harboursidejoinery.com.au"})) == [
        254700101,
        254700201,
    ]


def test_renaming_an_organisation_shows_on_its_people_without_touching_them(
    capsule: httpx.Client,
) -> None:
    before = capsule.get("/parties/254700201").json()["party"]
    capsule.put("/parties/254700101", json={"party": {"name": "Harbourside Joinery & Co Pty Ltd"}})
    after = capsule.get("/parties/254700201").json()["party"]
    assert after["organisation"]["name"] == "Harbourside Joinery & Co Pty Ltd"
    assert after["updatedAt"] == before["updatedAt"]


def test_tasks_list_only_open_tasks_unless_status_says_otherwise(capsule: httpx.Client) -> None:
    assert ids_of(capsule.get("/tasks"), "tasks") == [147300101, 147300104]
    everything = capsule.get("/tasks", params={"status": "open,completed,pending"})
    assert ids_of(everything, "tasks") == [147300101, 147300102, 147300103, 147300104]
    assert ids_of(capsule.get("/tasks", params={"status": "completed"}), "tasks") == [147300102]
    # no `since` on tasks: the parameter is ignored, not applied
    assert ids_of(capsule.get("/tasks", params={"since": "2030-01-01T00:00:00Z"}), "tasks") == [
        147300101,
        147300104,
    ]


def test_tasks_can_embed_their_party_and_kase(capsule: httpx.Client) -> None:
    tasks = capsule.get("/tasks", params={"embed": "party,kase"}).json()["tasks"]
    assert tasks[0]["party"]["addresses"][0]["city"] == "Marrickville"
    assert tasks[1]["kase"]["status"] == "OPEN"


def test_opportunities_and_kases_support_since_and_embed(capsule: httpx.Client) -> None:
    assert ids_of(
        capsule.get("/opportunities", params={"since": "2025-07-14T05:47:21Z"}), "opportunities"
    ) == [8840011]
    assert capsule.get("/opportunities", params={"since": "2025-07-14T05:47:22Z"}).json() == {
        "opportunities": []
    }
    kase = capsule.get("/kases", params={"embed": "party,opportunity"}).json()["kases"][0]
    assert kase["party"]["name"] == "Harbourside Joinery Pty Ltd" and "addresses" in kase["party"]
    assert kase["opportunity"]["value"] == {"amount": 48750.5, "currency": "AUD"}
    plain = capsule.get("/kases").json()["kases"][0]
    assert "tags" not in plain and plain["opportunity"] == {
        "id": 8840011,
        "name": "FY26 hardwood supply agreement",
    }


def test_account_endpoints_answer(capsule: httpx.Client) -> None:
    assert capsule.get("/users/current").json()["user"]["username"] == "mia.nguyen"
    assert set(capsule.get("/site").json()["site"]) == {"url", "subdomain", "name"}
    names = [c["name"] for c in capsule.get("/countries").json()["countries"]]
    assert {"Australia", "New Zealand"} <= set(names)
    assert capsule.get("/teams").json() == {"teams": [{"id": 5521, "name": "NSW Sales"}]}


def test_an_empty_account_still_answers_with_a_demo_user(api: httpx.Client) -> None:
    assert api.get("/parties").json() == {"parties": []}
    assert api.get("/users/current").json()["user"]["status"] == "ACTIVE"


def test_unknown_paths_and_methods_answer_in_capsules_words(capsule: httpx.Client) -> None:
    assert capsule.get("/nothing-here").json() == {"message": "Could not find resource"}
    response = capsule.delete("/parties")
    assert response.status_code == 405
    assert response.json() == {"message": "Method not allowed"}


def test_persons_list_with_their_organisation_reference(
    api: httpx.Client, load: Callable[[Dataset], None]
) -> None:
    org = make_org(10, "Acme Pty Ltd")
    load(Dataset(seed=1, size=2, capsule_parties=[org, make_person(11, "Ann", "Lee", org)]))
    person = api.get("/parties/11").json()["party"]
    assert person["organisation"] == {
        "id": 10,
        "type": "organisation",
        "name": "Acme Pty Ltd",
        "pictureURL": org["pictureURL"],
    }

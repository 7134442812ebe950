"""The spec's example payloads round-trip: loaded into the stand-in, served back in the same shape."""

from __future__ import annotations

import httpx

from tests.sandbox.capsule.world import example, examples_dir


def test_the_examples_folder_is_present() -> None:
    assert examples_dir().is_dir(), f"missing {examples_dir()}"


def test_a_loaded_person_is_served_back_exactly_as_the_example(capsule: httpx.Client) -> None:
    response = capsule.get("/parties/254700201", params={"embed": "tags,fields"})
    assert response.status_code == 200
    assert response.json() == example("party-person.json")
    assert list(response.json()["party"]) == list(example("party-person.json")["party"])


def test_a_loaded_organisation_is_served_back_exactly_as_the_example(capsule: httpx.Client) -> None:
    response = capsule.get("/parties/254700101", params={"embed": "tags,fields,missingImportantFields"})
    assert response.json() == example("party-organisation.json")


def test_a_list_page_has_the_keys_of_the_example_page(capsule: httpx.Client) -> None:
    response = capsule.get("/parties", params={"perPage": 3, "embed": "tags,fields"})
    expected = {p["id"]: set(p) for p in example("parties-page.json")["parties"]}
    served = {p["id"]: set(p) for p in response.json()["parties"]}
    assert set(response.json()) == {"parties"}
    for party_id, keys in served.items():
        if party_id in expected:
            assert keys == expected[party_id]


def test_the_deleted_feed_matches_the_example(capsule: httpx.Client) -> None:
    response = capsule.get("/parties/deleted", params={"since": "2025-07-01T00:00:00Z"})
    assert response.json() == example("parties-deleted.json")


def test_definitions_tags_and_users_match_the_examples(capsule: httpx.Client) -> None:
    definitions = capsule.get("/parties/fields/definitions", params={"perPage": 100})
    assert definitions.json() == example("party-field-definitions.json")
    assert capsule.get("/parties/tags", params={"perPage": 100}).json() == example("party-tags.json")
    assert capsule.get("/users").json() == example("users.json")


def test_opportunity_kase_and_task_match_the_examples(capsule: httpx.Client) -> None:
    opportunity = capsule.get("/opportunities/8840011", params={"embed": "tags,fields"})
    assert opportunity.json() == example("opportunity.json")
    assert capsule.get("/kases/5590031", params={"embed": "tags,fields"}).json() == example("kase.json")
    assert capsule.get("/tasks/147300101").json() == example("task.json")


def test_error_bodies_match_the_examples(capsule: httpx.Client) -> None:
    assert capsule.get("/parties/999").json() == example("error-404.json")
    duplicate = capsule.post(
        "/parties", json={"party": {"type": "organisation", "name": "Harbourside Joinery Pty Ltd"}}
    )
    assert duplicate.status_code == 422
    assert duplicate.json() == example("error-422.json")


def test_the_example_update_request_is_accepted(capsule: httpx.Client) -> None:
    response = capsule.put("/parties/254700102", json=example("update-party-request.json"))
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"party"}

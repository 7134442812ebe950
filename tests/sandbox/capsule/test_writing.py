"""Writing: create, PUT merge semantics (rows, custom fields, tags), 422s, delete and cascades."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.capsule.store import iso
from tests.sandbox.capsule.world import example

ALL = {"embed": "tags,fields,missingImportantFields"}


def _party(client: httpx.Client, party_id: int) -> dict:
    return client.get(f"/parties/{party_id}", params=ALL).json()["party"]


def _errors(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"] == "Validation Failed"
    assert all(set(e) == {"message", "resource", "field"} for e in body["errors"])
    return [e["message"] for e in body["errors"]]


def test_creating_a_person_answers_201_with_location_and_the_token_user_as_owner(
    capsule: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.clock.advance(0.7)  # a fractional clock must still give whole-second timestamps
    body = {
        "party": {
            "type": "person",
            "firstName": "Lachlan",
            "lastName": "Reid",
            "organisation": {"id": 254700101},
            "emailAddresses": [{"type": "Work", "address": "lachlan@harboursidejoinery.com.au"}],
            "addresses": [{"type": "office", "city": "Newtown", "country": "australia"}],
        }
    }
    response = capsule.post("/parties", json=body, params={"embed": "tags,fields"})
    assert response.status_code == 201, response.text
    party = response.json()["party"]
    assert response.headers["location"].endswith(f"/api/v2/parties/{party['id']}")
    assert response.headers["location"].startswith("http://127.0.0.1:")
    assert party["owner"]["username"] == "mia.nguyen"
    assert party["organisation"]["name"] == "Harbourside Joinery Pty Ltd"
    assert party["addresses"][0]["type"] == "Office" and party["addresses"][0]["country"] == "Australia"
    assert party["tags"] == [] and party["fields"] == []
    stamp = party["createdAt"]
    assert stamp == party["updatedAt"] and stamp.endswith("Z") and len(stamp) == 20
    assert datetime.fromisoformat(stamp) <= sandbox.clock.now()
    assert set(party) == set(example("party-person.json")["party"])
    assert capsule.get(response.headers["location"]).status_code == 200


def test_a_person_needs_a_first_or_last_name(capsule: httpx.Client) -> None:
    response = capsule.post("/parties", json={"party": {"type": "person", "jobTitle": "Boss"}})
    assert _errors(response) == ["firstName or lastName is required"]


def test_an_organisation_needs_a_unique_name_case_insensitively(capsule: httpx.Client) -> None:
    assert _errors(capsule.post("/parties", json={"party": {"type": "organisation"}})) == ["name is required"]
    response = capsule.post(
        "/parties", json={"party": {"type": "organisation", "name": " coral coast DIVE co "}}
    )
    assert _errors(response) == ["name must be unique"]
    rename = capsule.put("/parties/254700102", json={"party": {"name": "Coral Coast Dive Co"}})
    assert _errors(rename) == ["name must be unique"]
    # keeping one's own name is not a clash
    assert (
        capsule.put("/parties/254700103", json={"party": {"name": "Coral Coast Dive Co"}}).status_code == 200
    )


def test_an_unknown_country_is_a_422_and_changes_nothing(capsule: httpx.Client) -> None:
    before = _party(capsule, 254700103)
    response = capsule.put(
        "/parties/254700103",
        json={"party": {"about": "changed", "addresses": [{"city": "Cairns", "country": "Atlantis"}]}},
    )
    errors = response.json()["errors"]
    assert response.status_code == 422
    assert errors == [
        {"message": "Atlantis is not a valid country", "resource": "address", "field": "country"}
    ]
    assert _party(capsule, 254700103) == before


def test_linking_a_person_to_something_that_is_not_an_organisation_is_refused(capsule: httpx.Client) -> None:
    body = {"party": {"type": "person", "firstName": "X", "organisation": {"id": 254700201}}}
    assert _errors(capsule.post("/parties", json=body)) == ["organisation not found"]


def test_the_example_update_merges_fields_rows_and_tags(capsule: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.clock.advance(5)
    response = capsule.put("/parties/254700102", json=example("update-party-request.json"), params=ALL)
    assert response.status_code == 200, response.text
    party = response.json()["party"]
    fields = {f["definition"]["name"]: f for f in party["fields"]}
    assert fields["Xero Contact ID"]["value"] == "7b2e91d4-58c0-4f3a-b6e7-2d9a0c41f8e3"
    assert fields["Payment Terms (days)"] == {
        "id": 30500202,
        "definition": {"id": 812303, "name": "Payment Terms (days)"},
        "value": "30",  # numbers are served as strings (docs/api-facts.md#capsule-parties)
    }
    assert [p["number"] for p in party["phoneNumbers"]] == ["(03) 5021 7799"]
    assert party["tags"] == [{"id": 98001, "name": "Trade Account", "dataTag": True}]
    assert party["updatedAt"] > "2025-07-02T03:04:05Z"


def test_rows_are_added_updated_and_deleted_by_id_and_destroy_is_ignored(capsule: httpx.Client) -> None:
    party = _party(capsule, 254700101)
    office, billing = (a["id"] for a in party["addresses"])
    body = {
        "party": {
            "addresses": [
                {"id": office, "street": "Unit 5, 18 Sydenham Road"},
                {"id": billing, "_destroy": True},
                {"type": "Shipping", "street": "Dock 2", "city": "Botany", "country": "Australia"},
            ],
            "websites": [{"id": party["websites"][1]["id"], "_delete": True}, {"address": "hj.example"}],
        }
    }
    updated = capsule.put("/parties/254700101", json=body).json()["party"]
    streets = [(a["id"], a["street"]) for a in updated["addresses"]]
    assert streets[:2] == [(office, "Unit 5, 18 Sydenham Road"), (billing, "PO Box 512")]
    assert streets[2][1] == "Dock 2" and streets[2][0] not in {office, billing}
    assert updated["addresses"][0]["city"] == "Marrickville"  # untouched attributes stay
    assert [(w["address"], w["service"], w["url"]) for w in updated["websites"]] == [
        ("harboursidejoinery.com.au", "URL", "http://harboursidejoinery.com.au"),
        ("hj.example", "URL", "http://hj.example"),
    ]


def test_phone_and_email_rows_merge_by_id_and_everything_not_sent_stays(
    capsule: httpx.Client, sandbox: Sandbox
) -> None:
    before = _party(capsule, 254700201)
    sandbox.clock.advance(3)
    body = {
        "party": {
            "lastName": "O'Brien-Kaur",
            "phoneNumbers": [
                {"id": 568911202, "number": "+61 2 9550 0000"},
                {"type": "Fax", "number": "+61 2 9550 0001"},
            ],
            "emailAddresses": [
                {"id": 568911203, "_delete": True},
                {"type": "Home", "address": "sarah@example.com"},
            ],
        }
    }
    after = capsule.put("/parties/254700201", json=body, params=ALL).json()["party"]
    phones = after["phoneNumbers"]
    assert phones[:2] == [
        {"id": 568911201, "type": "Mobile", "number": "0412 555 019"},  # not mentioned: stays
        {"id": 568911202, "type": "Work", "number": "+61 2 9550 0000"},  # type kept, number changed
    ]
    assert phones[2]["type"] == "Fax" and phones[2]["id"] not in (568911201, 568911202)
    assert [(e["type"], e["address"]) for e in after["emailAddresses"]] == [("Home", "sarah@example.com")]
    assert after["lastName"] == "O'Brien-Kaur"
    for key in ("firstName", "title", "jobTitle", "about", "organisation", "owner", "addresses", "tags"):
        assert after[key] == before[key], key
    assert after["updatedAt"] > before["updatedAt"]


def test_a_refused_row_change_is_a_422_in_capsules_shape_and_changes_nothing(
    capsule: httpx.Client,
) -> None:
    before = _party(capsule, 254700201)
    body = {
        "party": {
            "firstName": "Sal",
            "phoneNumbers": [{"id": 568911201, "number": "  "}],
            "emailAddresses": [{"type": "Work", "_delete": True}],
        }
    }
    response = capsule.put("/parties/254700201", json=body)
    assert _errors(response) == ["number is required", "id is required to delete a emailAddress"]
    assert response.json()["errors"][0] == {
        "message": "number is required",
        "resource": "phoneNumber",
        "field": "number",
    }
    assert _party(capsule, 254700201) == before


def test_a_row_id_that_is_not_on_the_party_is_a_422(capsule: httpx.Client) -> None:
    response = capsule.put(
        "/parties/254700101", json={"party": {"phoneNumbers": [{"id": 1, "_delete": True}]}}
    )
    assert _errors(response) == ["phoneNumber not found"]


def test_a_custom_field_set_by_definition_updates_the_existing_value_row(capsule: httpx.Client) -> None:
    body = {"party": {"fields": [{"definition": {"id": 812301}, "value": "51 824 753 556"}]}}
    party = capsule.put("/parties/254700101", json=body, params=ALL).json()["party"]
    abn = [f for f in party["fields"] if f["definition"]["id"] == 812301]
    assert abn == [{"id": 30500101, "definition": {"id": 812301, "name": "ABN"}, "value": "51 824 753 556"}]


def test_a_datatag_field_value_carries_its_tag_id(capsule: httpx.Client) -> None:
    body = {"party": {"fields": [{"definition": {"id": 812307}, "value": 5000}]}}
    party = capsule.put("/parties/254700103", json=body, params=ALL).json()["party"]
    credit = next(f for f in party["fields"] if f["definition"]["id"] == 812307)
    assert credit["value"] == "5000" and credit["tagId"] == 98001
    assert all(t["id"] != 98001 for t in party["tags"])  # the DataTag itself is not attached


def test_a_null_value_clears_a_field_but_not_a_boolean(capsule: httpx.Client) -> None:
    cleared = capsule.put(
        "/parties/254700101",
        json={"party": {"fields": [{"definition": {"id": 812304}, "value": None}]}},
        params=ALL,
    )
    assert all(f["definition"]["id"] != 812304 for f in cleared.json()["party"]["fields"])
    boolean = capsule.put("/parties/254700101", json={"party": {"fields": [{"id": 30500105, "value": None}]}})
    assert _errors(boolean) == ["value cannot be null for a boolean field; set false"]
    by_row = capsule.put(
        "/parties/254700101", json={"party": {"fields": [{"id": 30500106, "_delete": True}]}}, params=ALL
    )
    assert all(f["id"] != 30500106 for f in by_row.json()["party"]["fields"])


@pytest.mark.parametrize(
    ("definition", "value", "message"),
    [
        (812304, "Mining", "Industry must be one of the list options"),
        (812305, "yes", "GST Registered must be true or false"),
        (812306, "01/03/2023", "Customer Since must be a date (YYYY-MM-DD)"),
        (812303, "thirty", "Payment Terms (days) must be a number"),
        (999999, "x", "field definition not found"),
        (812308, True, "field 'Newsletter Opt-in' applies only to persons"),
    ],
)
def test_custom_field_values_are_checked_against_their_definition(
    capsule: httpx.Client, definition: int, value: object, message: str
) -> None:
    body = {"party": {"fields": [{"definition": {"id": definition}, "value": value}]}}
    assert _errors(capsule.put("/parties/254700101", json=body)) == [message]


def test_missing_important_fields_follows_the_abn(capsule: httpx.Client) -> None:
    assert _party(capsule, 254700101)["missingImportantFields"] is False
    cleared = {"party": {"fields": [{"definition": {"id": 812301}, "value": None}]}}
    assert (
        capsule.put("/parties/254700101", json=cleared, params=ALL).json()["party"]["missingImportantFields"]
        is True
    )


def test_tags_are_added_by_name_case_insensitively_and_created_when_missing(capsule: httpx.Client) -> None:
    body = {"party": {"tags": [{"name": "wholesale"}, {"name": "Export"}, {"name": "EXPORT"}]}}
    party = capsule.put("/parties/254700103", json=body, params=ALL).json()["party"]
    assert [t["name"] for t in party["tags"]] == ["Wholesale", "Export"]
    assert party["tags"][0]["id"] == 98002
    account_tags = capsule.get("/parties/tags").json()["tags"]
    assert [t["name"] for t in account_tags] == ["Trade Account", "Wholesale", "Newsletter", "Export"]
    again = capsule.put("/parties/254700103", json={"party": {"tags": [{"name": "Export"}]}}, params=ALL)
    assert [t["name"] for t in again.json()["party"]["tags"]] == [
        "Wholesale",
        "Export",
    ]  # re-adding is harmless


def test_deleting_a_tag_that_is_not_on_the_party_is_a_422_and_creates_nothing(capsule: httpx.Client) -> None:
    body = {"party": {"tags": [{"name": "Brand New"}, {"id": 98003, "_delete": True}]}}
    response = capsule.put("/parties/254700101", json=body)
    assert response.json()["errors"] == [
        {"message": "tag not found to delete", "resource": "party", "field": "tags"}
    ]
    assert "Brand New" not in [t["name"] for t in capsule.get("/parties/tags").json()["tags"]]
    removed = capsule.put(
        "/parties/254700101", json={"party": {"tags": [{"id": 98002, "_delete": True}]}}, params=ALL
    )
    assert [t["id"] for t in removed.json()["party"]["tags"]] == [98001]


def test_every_write_bumps_updated_at_and_shows_in_the_since_feed(
    capsule: httpx.Client, sandbox: Sandbox
) -> None:
    before = capsule.get("/parties/254700103").json()["party"]["updatedAt"]
    cutoff = iso(sandbox.clock.now())
    sandbox.clock.advance(2)
    assert capsule.get("/parties", params={"since": cutoff}).json() == {"parties": []}
    same = capsule.put("/parties/254700103", json={"party": {}})  # no change at all: still a write
    assert same.status_code == 200
    assert same.json()["party"]["updatedAt"] > before
    assert same.json()["party"]["updatedAt"] > cutoff
    assert [p["id"] for p in capsule.get("/parties", params={"since": cutoff}).json()["parties"]] == [
        254700103
    ]


def test_deleting_a_party_leaves_a_tombstone_and_cascades(capsule: httpx.Client, sandbox: Sandbox) -> None:
    since = "2025-07-07T00:00:00Z"
    assert capsule.delete("/parties/254700101").status_code == 204
    assert capsule.get("/parties/254700101").status_code == 404
    assert capsule.delete("/parties/254700101").status_code == 404
    deleted = capsule.get("/parties/deleted", params={"since": since}).json()
    assert deleted["parties"][-1]["id"] == 254700101
    assert deleted["parties"][-1]["deletedAt"].endswith("Z")
    # its opportunity and kase are gone with their own tombstones; its tasks went too
    assert capsule.get("/opportunities/8840011").status_code == 404
    assert [
        o["id"]
        for o in capsule.get("/opportunities/deleted", params={"since": since}).json()["opportunities"]
    ] == [8840011]
    assert [k["id"] for k in capsule.get("/kases/deleted", params={"since": since}).json()["kases"]] == [
        5590031
    ]
    remaining = capsule.get("/tasks", params={"status": "open,completed,pending"}).json()["tasks"]
    assert remaining == []  # three tasks on the party, one on its kase
    # its person stays, unlinked, and is reported as changed
    person = capsule.get("/parties/254700201").json()["party"]
    assert person["organisation"] is None
    assert person["updatedAt"] == deleted["parties"][-1]["deletedAt"]


@pytest.mark.parametrize("feed", ["/parties/deleted", "/opportunities/deleted", "/kases/deleted"])
def test_deleted_feeds_require_since(capsule: httpx.Client, feed: str) -> None:
    assert _errors(capsule.get(feed)) == ["since is required"]


def test_restricted_keys_appear_only_when_non_empty(capsule: httpx.Client, ctl: CapsuleControl) -> None:
    opportunities = capsule.get("/opportunities/deleted", params={"since": "2025-01-01T00:00:00Z"}).json()
    assert opportunities == {"opportunities": [{"id": 8840001, "deletedAt": "2025-07-05T01:00:00Z"}]}
    ctl.restrict_party(254700103)
    parties = capsule.get("/parties/deleted", params={"since": "2025-07-13T00:00:00Z"}).json()
    assert [p["id"] for p in parties["restrictedParties"]] == [254700177, 254700103]
    assert capsule.get("/parties/254700103").status_code == 404


def test_ui_edits_through_the_control_routes_behave_like_api_writes(
    capsule: httpx.Client, ctl: CapsuleControl, sandbox: Sandbox
) -> None:
    created = ctl.create_party({"type": "organisation", "name": "Kangaroo Island Honey"}, user_id=612051)
    assert created["owner"]["username"] == "tom.fraser"
    assert "missingImportantFields" in created
    sandbox.clock.advance(2)
    edited = ctl.update_party(created["id"], {"tags": [{"name": "Wholesale"}]})
    assert edited["updatedAt"] > created["updatedAt"]
    assert ctl.get_party(created["id"])["tags"][0]["name"] == "Wholesale"
    with pytest.raises(RuntimeError, match="name must be unique"):
        ctl.update_party(created["id"], {"name": "Coral Coast Dive Co"})
    ctl.delete_party(created["id"])
    assert ctl.get_party(created["id"]) is None
    feed = capsule.get("/parties/deleted", params={"since": created["createdAt"]}).json()["parties"]
    assert [p["id"] for p in feed] == [created["id"]]


def test_a_ui_edit_of_phone_email_and_address_rows_moves_updated_at_and_shows_in_the_since_feed(
    capsule: httpx.Client, ctl: CapsuleControl, sandbox: Sandbox
) -> None:
    before = _party(capsule, 254700101)
    cutoff = iso(sandbox.clock.now())
    sandbox.clock.advance(2)
    ctl.update_party(
        254700101,
        {
            "phoneNumbers": [{"id": 568901201, "number": "+61 2 9550 9999"}],
            "emailAddresses": [{"type": "Home", "address": "owner@harboursidejoinery.com.au"}],
            "addresses": [{"id": 568901203, "_delete": True}, {"id": 568901202, "zip": "2205"}],
        },
    )
    after = _party(capsule, 254700101)  # read back through the API, as the sync would
    assert after["phoneNumbers"] == [{"id": 568901201, "type": "Work", "number": "+61 2 9550 9999"}]
    assert [e["address"] for e in after["emailAddresses"]] == [
        "accounts@harboursidejoinery.com.au",
        "owner@harboursidejoinery.com.au",
    ]
    assert [(a["id"], a["zip"], a["street"]) for a in after["addresses"]] == [
        (568901202, "2205", "Unit 4, 18 Sydenham Road")
    ]
    assert after["updatedAt"] > before["updatedAt"] and after["updatedAt"] > cutoff
    assert [p["id"] for p in capsule.get("/parties", params={"since": cutoff}).json()["parties"]] == [
        254700101
    ]


def test_a_body_without_the_party_wrapper_or_with_bad_json_is_refused(capsule: httpx.Client) -> None:
    assert capsule.post("/parties", json={"type": "person", "firstName": "A"}).status_code == 422
    bad = capsule.post("/parties", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "message" in bad.json()

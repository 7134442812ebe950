"""Contact history notes, contact groups and users.

Facts: docs/api-facts.md#xero-history-notes, #xero-contact-groups, #xero-users.
"""

from __future__ import annotations

import uuid

from sandbox.app import Sandbox
from sandbox.generator.dataset import Dataset
from sandbox.server import SandboxServer
from tests.sandbox.xero.conftest import XeroApi

# ---- history ------------------------------------------------------------------------------------


def test_notes_are_added_several_per_call_as_system_generated(api: XeroApi) -> None:
    cid = api.create(Name="Acme")["ContactID"]
    response = api.put(
        f"/Contacts/{cid}/History",
        json={"HistoryRecords": [{"Details": "First note"}, {"Details": "Second"}]},
    )
    assert response.status_code == 200
    created = response.json()["HistoryRecords"]
    assert [r["Details"] for r in created] == ["First note", "Second"]
    assert all(r["DateUTC"].startswith("/Date(") and r["ValidationErrors"] == [] for r in created)
    history = api.get(f"/Contacts/{cid}/History").json()["HistoryRecords"]
    notes = [h for h in history if h["Changes"] == "Note"]
    assert [(n["Details"], n["User"]) for n in notes] == [
        ("First note", "System Generated"),
        ("Second", "System Generated"),
    ]
    assert history[0]["Changes"] == "Created"  # the create itself is in the history too


def test_post_adds_notes_like_put(api: XeroApi) -> None:
    cid = api.create(Name="Acme")["ContactID"]
    assert api.post(f"/Contacts/{cid}/History", json={"Details": "Bare object note"}).status_code == 200
    notes = [
        h["Details"]
        for h in api.get(f"/Contacts/{cid}/History").json()["HistoryRecords"]
        if h["Changes"] == "Note"
    ]
    assert notes == ["Bare object note"]


def test_a_note_over_2500_characters_is_refused_and_nothing_is_added(api: XeroApi) -> None:
    cid = api.create(Name="Acme")["ContactID"]
    response = api.put(
        f"/Contacts/{cid}/History", json={"HistoryRecords": [{"Details": "ok"}, {"Details": "x" * 2501}]}
    )
    assert response.status_code == 400 and response.json()["Type"] == "ValidationException"
    assert "2500" in response.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    assert api.put(f"/Contacts/{cid}/History", json={"Details": "x" * 2500}).status_code == 200
    notes = [
        h for h in api.get(f"/Contacts/{cid}/History").json()["HistoryRecords"] if h["Changes"] == "Note"
    ]
    assert len(notes) == 1


def test_history_of_an_unknown_contact_is_a_404(api: XeroApi) -> None:
    unknown = uuid.uuid4()
    assert api.get(f"/Contacts/{unknown}/History").status_code == 404
    assert api.put(f"/Contacts/{unknown}/History", json={"Details": "x"}).status_code == 404


def test_an_empty_history_body_is_no_data_processed(api: XeroApi) -> None:
    cid = api.create(Name="Acme")["ContactID"]
    response = api.put(f"/Contacts/{cid}/History", json={"HistoryRecords": []})
    assert response.status_code == 400 and response.json()["ErrorNumber"] == 17


def test_updates_and_archives_appear_in_history(api: XeroApi) -> None:
    cid = api.create(Name="Acme")["ContactID"]
    api.post("/Contacts", json={"ContactID": cid, "EmailAddress": "a@acme.com"})
    api.post("/Contacts", json={"ContactID": cid, "ContactStatus": "ARCHIVED"})
    changes = [h["Changes"] for h in api.get(f"/Contacts/{cid}/History").json()["HistoryRecords"]]
    assert changes == ["Created", "Edited", "Archived"]


# ---- contact groups -----------------------------------------------------------------------------


def make_group(api: XeroApi, name: str) -> dict:
    response = api.put("/ContactGroups", json={"ContactGroups": [{"Name": name}]})
    assert response.status_code == 200, response.text
    return response.json()["ContactGroups"][0]


def test_groups_are_created_listed_and_fetched_with_their_members(api: XeroApi) -> None:
    vip = make_group(api, "VIP")
    assert vip["Status"] == "ACTIVE" and uuid.UUID(vip["ContactGroupID"])
    response = api.post("/ContactGroups", json={"ContactGroups": [{"Name": "Trade"}]})  # POST creates too
    assert response.status_code == 200
    a, b = api.create(Name="A"), api.create(Name="B")
    added = api.put(
        f"/ContactGroups/{vip['ContactGroupID']}/Contacts",
        json={"Contacts": [{"ContactID": a["ContactID"]}, {"ContactID": b["ContactID"]}]},
    )
    assert added.status_code == 200
    assert [c["ContactID"] for c in added.json()["Contacts"]] == [a["ContactID"], b["ContactID"]]
    listed = api.get("/ContactGroups", params={"order": "Name"}).json()["ContactGroups"]
    assert [g["Name"] for g in listed] == ["Trade", "VIP"] and all(g["Contacts"] == [] for g in listed)
    one = api.get(f"/ContactGroups/{vip['ContactGroupID']}").json()["ContactGroups"][0]
    assert one["Contacts"] == [
        {"ContactID": a["ContactID"], "Name": "A"},
        {"ContactID": b["ContactID"], "Name": "B"},
    ]
    # Membership shows on paged and single contact reads, not on the unpaged list.
    assert api.contact(a["ContactID"])["ContactGroups"] == [
        {"ContactGroupID": vip["ContactGroupID"], "Name": "VIP", "Status": "ACTIVE"}
    ]
    paged = api.get("/Contacts", params={"page": 1}).json()["Contacts"]
    assert all(c["ContactGroups"] for c in paged)
    assert all("ContactGroups" not in c for c in api.get("/Contacts").json()["Contacts"])


def test_group_where_filters_by_name(api: XeroApi) -> None:
    make_group(api, "VIP")
    make_group(api, "Trade")
    found = api.get("/ContactGroups", params={"where": 'Name=="vip"'}).json()["ContactGroups"]
    assert [g["Name"] for g in found] == ["VIP"]


def test_an_archived_contact_cannot_join_a_group(api: XeroApi) -> None:
    group = make_group(api, "VIP")
    good, old = api.create(Name="Good"), api.create(Name="Old")
    api.post("/Contacts", json={"ContactID": old["ContactID"], "ContactStatus": "ARCHIVED"})
    response = api.put(
        f"/ContactGroups/{group['ContactGroupID']}/Contacts",
        json={"Contacts": [{"ContactID": good["ContactID"]}, {"ContactID": old["ContactID"]}]},
    )
    assert response.status_code == 400
    element = response.json()["Elements"][0]
    assert element["ContactID"] == old["ContactID"]
    assert element["ValidationErrors"] == [{"Message": "Unable to assign an Archived contact."}]
    members = api.get(f"/ContactGroups/{group['ContactGroupID']}").json()["ContactGroups"][0]["Contacts"]
    assert [m["Name"] for m in members] == ["Good"]  # the valid one was still added


def test_members_are_removed_one_at_a_time_or_all_at_once(api: XeroApi) -> None:
    group = make_group(api, "VIP")
    gid = group["ContactGroupID"]
    ids = [api.create(Name=n)["ContactID"] for n in ("A", "B", "C")]
    api.put(f"/ContactGroups/{gid}/Contacts", json={"Contacts": [{"ContactID": i} for i in ids]})
    response = api.delete(f"/ContactGroups/{gid}/Contacts/{ids[0]}")
    assert response.status_code == 204 and response.content == b""
    assert api.delete(f"/ContactGroups/{gid}/Contacts/{ids[0]}").status_code == 400  # no longer a member
    members = api.get(f"/ContactGroups/{gid}").json()["ContactGroups"][0]["Contacts"]
    assert [m["Name"] for m in members] == ["B", "C"]
    assert api.delete(f"/ContactGroups/{gid}/Contacts").status_code == 204
    assert api.get(f"/ContactGroups/{gid}").json()["ContactGroups"][0]["Contacts"] == []


def test_a_group_is_renamed_or_deleted_by_post(api: XeroApi) -> None:
    gid = make_group(api, "VIP")["ContactGroupID"]
    renamed = api.post(f"/ContactGroups/{gid}", json={"ContactGroups": [{"Name": "Very Important"}]})
    assert renamed.json()["ContactGroups"][0]["Name"] == "Very Important"
    deleted = api.post(f"/ContactGroups/{gid}", json={"ContactGroups": [{"Status": "DELETED"}]})
    assert deleted.status_code == 200 and deleted.json()["ContactGroups"][0]["Status"] == "DELETED"
    assert api.get("/ContactGroups").json()["ContactGroups"] == []  # only ACTIVE groups are listed


def test_at_most_100_contact_groups(api: XeroApi) -> None:
    response = api.put("/ContactGroups", json={"ContactGroups": [{"Name": f"G{i}"} for i in range(100)]})
    assert response.status_code == 200
    response = api.put("/ContactGroups", json={"ContactGroups": [{"Name": "One too many"}]})
    assert response.status_code == 400
    assert response.json()["Elements"][0]["ValidationErrors"] == [
        {"Message": "You’ve reached the limit of 100 contact groups."}
    ]


def test_group_names_are_required_and_unique_among_active_groups(api: XeroApi) -> None:
    make_group(api, "VIP")
    assert api.put("/ContactGroups", json={"Name": "vip"}).status_code == 400
    assert api.put("/ContactGroups", json={"ContactGroups": [{"Name": ""}]}).status_code == 400


def test_an_unknown_group_is_a_404(api: XeroApi) -> None:
    unknown = uuid.uuid4()
    assert api.get(f"/ContactGroups/{unknown}").status_code == 404
    assert api.put(f"/ContactGroups/{unknown}/Contacts", json={"Contacts": []}).status_code == 404


def test_seeded_groups_keep_their_members(server: SandboxServer, sandbox: Sandbox, api: XeroApi) -> None:
    cid, gid = str(uuid.uuid4()), str(uuid.uuid4())
    dataset = Dataset(
        seed=0,
        size=1,
        xero_contacts=[{"ContactID": cid, "Name": "Seeded"}],
        xero_contact_groups=[
            {"ContactGroupID": gid, "Name": "Owner: Sam", "Status": "ACTIVE", "ContactIDs": [cid]}
        ],
    )
    server.call(lambda: sandbox.xero.primary.load(dataset))
    assert api.get(f"/ContactGroups/{gid}").json()["ContactGroups"][0]["Contacts"] == [
        {"ContactID": cid, "Name": "Seeded"}
    ]


# ---- users --------------------------------------------------------------------------------------


def test_users_are_listed_filtered_and_fetched(server: SandboxServer, sandbox: Sandbox, api: XeroApi) -> None:
    users = [
        {
            "UserID": str(uuid.uuid4()),
            "EmailAddress": "sam@acme.com.au",
            "FirstName": "Sam",
            "LastName": "Lee",
            "IsSubscriber": True,
            "OrganisationRole": "STANDARD",
        },
        {
            "UserID": str(uuid.uuid4()),
            "EmailAddress": "ann@acme.com.au",
            "FirstName": "Ann",
            "LastName": "Bo",
            "IsSubscriber": False,
            "OrganisationRole": "READONLY",
        },
    ]
    server.call(lambda: sandbox.xero.primary.load(Dataset(seed=0, size=0, xero_users=users)))
    listed = api.get("/Users", params={"order": "FirstName"}).json()["Users"]
    assert [u["FirstName"] for u in listed] == ["Ann", "Sam"]
    assert listed[0]["UpdatedDateUTC"].startswith("/Date(")
    subscribers = api.get("/Users", params={"where": "IsSubscriber==true"}).json()["Users"]
    assert [u["EmailAddress"] for u in subscribers] == ["sam@acme.com.au"]
    one = api.get(f"/Users/{users[1]['UserID']}").json()["Users"]
    assert one[0]["OrganisationRole"] == "READONLY"
    assert api.get(f"/Users/{uuid.uuid4()}").status_code == 404


def test_an_empty_organisation_still_has_its_subscriber(api: XeroApi) -> None:
    users = api.get("/Users").json()["Users"]
    assert len(users) == 1 and users[0]["IsSubscriber"] is True


def test_users_need_a_settings_scope(server: SandboxServer, issue, tenant_id: str) -> None:
    client = XeroApi(server, issue(scopes={"accounting.settings.read"}), tenant_id)
    try:
        assert client.get("/Users").status_code == 200
        assert client.get("/Contacts").status_code == 401
    finally:
        client.close()

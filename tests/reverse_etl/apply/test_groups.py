"""Contact groups around the written contacts (reverse_etl/apply/groups.py)."""

from __future__ import annotations

import duckdb

from capsule_xero.settings import Settings
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.control import SandboxControl
from sandbox.xero.control import XeroControl
from tests.reverse_etl.conftest import API
from tests.reverse_etl.plans_by_hand import add_plan, create, outcomes, query, run, update


def test_groups_are_created_and_membership_set_for_new_and_changed_contacts(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    member = xero.create_contact(Name="Member Pty Ltd", ContactNumber=f"CAP-{parties[0]}")
    vip = writer.ensure_groups(["VIP", "Christmas Cards"]).ids
    writer.set_group_members(vip["VIP"], add=[member["ContactID"]])
    writer.set_group_members(vip["Christmas Cards"], add=[member["ContactID"]])
    plan_id = add_plan(
        con,
        [
            create(parties[1], contact_groups='["VIP","Wholesale"]'),
            {
                **update(parties[0], member, {"name": "Member Renamed"}),
                "after": {"name": "Member Renamed", "contact_groups": '["Wholesale"]'},
                "before": {"name": "Member Pty Ltd", "contact_groups": '["VIP"]'},
            },
        ],
    )
    since = control.last_seq()
    result = run(con, settings, plan_id, writer, back)
    assert result.groups_changed == 2 and not [p for p in result.problems if "group" in p]
    groups = {g["Name"]: {c["ContactID"] for c in g.get("Contacts", [])} for g in xero.groups()}
    new_id = outcomes(con, plan_id)[1]["contact_id"]
    assert groups["Wholesale"] == {new_id, member["ContactID"]}
    assert groups["VIP"] == {new_id}
    assert groups["Christmas Cards"] == {member["ContactID"]}  # a group this tool does not manage stays
    ledger = {
        r["contact_id"]: r["contact_groups"] for r in query(con, "select * from ledger.written_contacts")
    }
    assert ledger == {new_id: '["VIP","Wholesale"]', member["ContactID"]: '["Wholesale"]'}
    group_calls = [c for c in control.calls("xero", since) if c["path"].startswith(f"{API}/ContactGroups")]
    assert (
        len([c for c in group_calls if c["method"] == "PUT" and c["path"].endswith("/Contacts")]) == 2
    )  # one per group
    audit = query(
        con, "select seq, before, after from ledger.audit where field = 'contact_groups' order by seq"
    )
    assert [(r["seq"], r["before"], r["after"]) for r in audit] == [
        (1, None, '["VIP","Wholesale"]'),
        (2, '["VIP"]', '["Wholesale"]'),
    ]

"""The outbox: exactly once across crashes, kills and lost answers (reverse_etl/apply/outbox.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.control import SandboxControl
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.reverse_etl.conftest import CONTACTS, QUICK, by_number, xero_calls
from tests.reverse_etl.plans_by_hand import (
    DiesAfterBatch,
    Killed,
    add_plan,
    archive,
    create,
    outcomes,
    query,
    run,
    update,
)


@pytest.mark.parametrize("die_after", [1, 2], ids=["after-the-post-batch", "after-a-create-batch"])
def test_a_run_killed_after_xero_committed_a_batch_is_settled_by_lookup_and_creates_nothing_twice(
    die_after: int,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    auth: XeroAuth,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    old = {p: xero.create_contact(Name=f"Old {p}", ContactNumber=f"CAP-{p}") for p in parties[:3]}
    operations = [
        archive(parties[0], old[parties[0]]),
        archive(parties[1], old[parties[1]]),
        update(parties[2], old[parties[2]], {"name": "Renamed Pty Ltd"}),
        *(create(p) for p in parties[3:58]),  # 55 creates: a batch of 50 and one of 5
    ]
    plan_id = add_plan(con, operations)
    since = control.last_seq()
    with DiesAfterBatch(settings, auth, policy=QUICK, die_after=die_after) as dying, pytest.raises(Killed):
        run(con, settings, plan_id, dying, back)
    open_rows = query(con, "select * from ledger.outbox where state = 'sending'")
    assert len(open_rows) == 1 and not outcomes(con, plan_id).keys() & set(open_rows[0]["seqs"])

    result = run(con, settings, plan_id, writer, back)
    assert result.status == "applied" and result.recovered == (2 if die_after == 1 else 50)
    calls = xero_calls(control, since)
    puts = [c for c in calls if c["method"] == "PUT"]
    assert [c["batch_size"] for c in puts] == [50, 5]  # the committed batch was looked up, not sent again
    lookups = [c for c in calls if c["method"] == "GET"]
    assert len(lookups) == 1  # one lookup settles the whole batch
    held = by_number(xero)
    assert all(len(held[f"CAP-{p}"]) == 1 for p in parties[:58])
    assert held[f"CAP-{parties[0]}"][0]["ContactStatus"] == "ARCHIVED"
    assert held[f"CAP-{parties[2]}"][0]["Name"] == "Renamed Pty Ltd"
    stored = outcomes(con, plan_id)
    assert {r["status"] for r in stored.values()} == {"archived", "updated", "created"}
    assert all(
        stored[s]["contact_id"] == held[op["contact_number"]][0]["ContactID"]
        for s, op in enumerate(operations, 1)
    )
    assert query(con, "select count(*) as n from ledger.outbox where state <> 'settled'")[0]["n"] == 0
    ledger_rows = query(con, "select count(*) as n from ledger.written_contacts")[0]["n"]
    assert ledger_rows == 58
    audit_rows = query(
        con, "select seq, field, count(*) as n from ledger.audit group by all having count(*) > 1"
    )
    assert audit_rows == []  # every change audited once, settled by lookup or not


def test_a_sigkilled_apply_leaves_its_outbox_committed_and_the_next_run_creates_nothing_twice(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    settings: Settings,
    auth: XeroAuth,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
    server: SandboxServer,
) -> None:
    """A real kill -9 of another process right after Xero committed the first batch: what that process
    committed to DuckDB before the send survives, and the next run settles the batch by lookup."""
    plan_id = add_plan(con, [create(p) for p in parties[:60]])
    con.close()
    script = (
        "import os, signal, duckdb\n"
        "from capsule_xero.rules.model import Rules\n"
        "from capsule_xero.settings import Settings\n"
        "from capsule_xero.xero.auth import XeroAuth\n"
        "from reverse_etl.apply.loop import apply_plan\n"
        "from reverse_etl.writers.capsule import CapsuleWriteBack\n"
        "from reverse_etl.writers.xero import XeroContactWriter\n"
        "class Dies(XeroContactWriter):\n"
        "    def write(self, operations, **kwargs):\n"
        "        for result in super().write(operations, **kwargs):\n"
        "            os.kill(os.getpid(), signal.SIGKILL)\n"
        "            yield result\n"
        "settings = Settings.from_env()\n"
        "con = duckdb.connect(os.environ['APPLY_DB'])\n"
        "apply_plan(con, settings, Rules(), int(os.environ['PLAN_ID']),\n"
        "           writer=Dies(settings, XeroAuth(settings)), capsule=CapsuleWriteBack(settings))\n"
    )
    env = {
        **os.environ,
        **server.env(),
        "CAPSULE_XERO_HOME": str(settings.home),
        "XERO_TENANT_ID": settings.xero_tenant_id,
        "APPLY_DB": str(tmp_path / "apply.duckdb"),
        "PLAN_ID": str(plan_id),
    }
    since = control.last_seq()
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(by_number(xero)) == 50  # Xero committed the first batch before the kill

    again = duckdb.connect(str(tmp_path / "apply.duckdb"))
    try:
        sending = query(again, "select seqs from ledger.outbox where state = 'sending'")
        assert [len(r["seqs"]) for r in sending] == [50]  # recorded, committed, before the request left
        result = run(again, settings, plan_id, writer, back)
        assert (result.status, result.recovered, result.created) == ("applied", 50, 60)
        assert [c["batch_size"] for c in xero_calls(control, since, "PUT")] == [50, 10]
        held = by_number(xero)
        assert sorted(len(v) for v in held.values()) == [1] * 60
    finally:
        again.close()


def test_an_answer_lost_for_good_is_recorded_unknown_and_settled_by_lookup_on_the_next_run(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    auth: XeroAuth,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    """Xero committed the batch and dropped the connection; the transport's retries and the writer's
    lookup both met a down Xero: the items stay unknown, the run stops, nothing is resent blind."""
    plan_id = add_plan(con, [create(p) for p in parties[:4]])
    control.add_fault("xero", "PUT", CONTACTS, times=2, drop=1.0)  # both tries of the transport
    control.add_fault("xero", "GET", CONTACTS, times=2, **{"503": 1.0})  # and the writer's lookup
    since = control.last_seq()
    with XeroContactWriter(settings, auth, policy=replace(QUICK, attempts=2), batch_attempts=1) as flaky:
        first = run(con, settings, plan_id, flaky, back)
    assert first.stopped is not None and first.unknown == 4 and first.status == "partly_applied"
    assert {r["status"] for r in outcomes(con, plan_id).values()} == {"unknown"}
    assert query(con, "select state from ledger.outbox")[0]["state"] == "answered"
    assert len(by_number(xero)) == 4  # landed, though nobody heard

    with XeroContactWriter(settings, auth, policy=QUICK) as healthy:
        second = run(con, settings, plan_id, healthy, back)
    assert (second.status, second.recovered) == ("applied", 4)
    assert len(xero_calls(control, since, "PUT")) == 2  # the dropped PUT and its retry, never sent again
    assert sorted(len(v) for v in by_number(xero).values()) == [1, 1, 1, 1]

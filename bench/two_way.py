"""Two-way figures: a day of edits on both sides synced once, its calls against their lower bounds.

    .venv/bin/python bench/two_way.py                                   # 10,000 parties, 1,000 + 300 edits
    .venv/bin/python bench/two_way.py --parties 600 --capsule-edits 60 --xero-edits 20   # ~1-2 min

A generated world is served by the sandbox in this process (tests/support/sync_world.py's ``World``,
its clock ``--speed`` times fast and Xero's pacing minute shortened to match, so Xero's 60 calls a
minute and Capsule's 4,000 an hour hold in sandbox time) with the rules of issue 13's contract:
``direction: both``, phones and postal address owned by Xero, e-mail by both.

Steps, each ``World.sync()`` (extract both, reconcile, plan, approve, apply, as ``sync --apply``):
the migration (repeated, the sandbox clock an hour on each time, until a sync writes nothing: Capsule's
hourly limit leaves a big migration's ContactID write-backs for later runs; timed, not measured), one sync that must be quiet, then the day's edits
made as people would through the stand-ins' control APIs — ``--capsule-edits`` synced organisations
get a new e-mail address in Capsule (the first e-mail row, by its id), ``--xero-edits`` other synced
organisations get a new e-mail and mobile in Xero — then the measured sync, then one more that must
be quiet again (no echo).

Printed for the measured sync: Xero and Capsule calls by method and path, against lower bounds —
Xero: contact reads ceil(changed contacts / PAGE_SIZE) (If-Modified-Since pages of the extract's
page size, at least one) and
contact writes ceil(updated contacts / 50); Capsule: ``/parties`` reads ceil(changed parties / 100)
(pages of perPage=100, at least one) and one PUT per party a Xero edit changes. Then wall time and the
peak RSS during the sync (VmHWM reset before it where the kernel allows, else the process's whole-run
peak); the sandbox is served from this process, so its memory is counted in too. Figures are printed,
never asserted: a quiet sync that writes is flagged on its line, with the plan rows that wrote.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

# Run as a script, this file's folder comes first on sys.path and bench/sandbox.py would hide the
# `sandbox` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import tests.support.sync_world as sync_world  # noqa: E402
from capsule_xero.rules.model import Rules  # noqa: E402
from pipelines.xero.settings import PAGE_SIZE  # noqa: E402
from sandbox.capsule.control import CapsuleControl  # noqa: E402
from sandbox.generator import generate  # noqa: E402
from sandbox.xero.control import XeroControl  # noqa: E402

TWO_WAY = {
    "sync": {"direction": "both"},
    "ownership": {"phones": "xero", "postal_address": "xero", "email_address": "both"},
}
XERO_CONTACTS = "/api.xro/2.0/Contacts"
CAPSULE_PARTIES = "/api/v2/parties"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
MIGRATION_SYNCS = 6


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM where /proc has it, else ru_maxrss), MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: ``echo 5 > /proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def calls(world: sync_world.World, api: str, since: int) -> list[Any]:
    return world.server.call(lambda: world.sandbox.calls.records(api, since))


def by_method_path(records: list[Any]) -> str:
    counted = Counter((r.method, re.sub(r"/\d+$", "/{id}", r.path)) for r in records)
    return ", ".join(f"{method} {path} {n:,}" for (method, path), n in sorted(counted.items())) or "none"


def parties_changed_since(world: sync_world.World, records: list[Any]) -> tuple[str, int] | None:
    """The ``since`` the incremental party read asked for (its cursor less the 5-minute overlap) and
    how many parties Capsule holds changed after it: what that read had to page through."""
    asked = [
        parse_qs(r.query).get("since") for r in records if r.method == "GET" and r.path == CAPSULE_PARTIES
    ]
    if not asked or not asked[0]:
        return None
    since = datetime.fromisoformat(asked[0][0])
    # Counted after the sync: the parties it wrote itself (after its read) are left out.
    written = {int(r.path.rsplit("/", 1)[1]) for r in writes(records) if re.search(r"/parties/\d+$", r.path)}

    def count() -> int:
        return sum(
            1
            for party_id, party in world.sandbox.capsule.parties.by_id.items()
            if party_id not in written and datetime.fromisoformat(party["updatedAt"]) > since
        )

    return asked[0][0], world.server.call(count)


def writes(records: list[Any]) -> list[Any]:
    return [r for r in records if r.method in WRITES and not r.path.startswith("/_sandbox")]


def plan_rows(world: sync_world.World, plan_id: int) -> list[tuple[Any, ...]]:
    """What a plan that should have been empty would write: its rows in both plan tables."""
    with world.connect() as con:
        xero = con.execute(
            "select 'xero', operation, party_id, contact_id, changed_fields::varchar, reason"
            " from ledger.plan_operations where plan_id = ? order by seq limit 10",
            [plan_id],
        ).fetchall()
        capsule = con.execute(
            "select 'capsule', operation, party_id, contact_id, changed_fields::varchar, before, after, reason"
            " from ledger.plan_capsule_operations where plan_id = ? order by seq limit 10",
            [plan_id],
        ).fetchall()
    return xero + capsule


def timed_sync(world: sync_world.World, label: str) -> tuple[sync_world.SyncRun, float, list[Any], list[Any]]:
    since = world.last_call()
    started = time.perf_counter()
    run = world.sync()
    wall = time.perf_counter() - started
    xero, capsule = calls(world, "xero", since), calls(world, "capsule", since)
    status = run.result.status if run.result is not None else run.plan.status
    print(
        f"{label}: plan {run.plan.plan_id} {status}, {run.plan.operations:,} Xero operations,"
        f" {run.plan.capsule_writes:,} Capsule writes; {len(writes(xero)):,} Xero and"
        f" {len(writes(capsule)):,} Capsule write calls; {wall:.1f} s",
        flush=True,
    )
    return run, wall, xero, capsule


def check_quiet(world: sync_world.World, label: str) -> None:
    run, _, xero, capsule = timed_sync(world, label)
    if writes(xero) or writes(capsule) or run.plan.status != "empty":
        print(
            f"  NOT QUIET: Xero writes {by_method_path(writes(xero))}; Capsule writes {by_method_path(writes(capsule))}"
        )
        for row in plan_rows(world, run.plan.plan_id):
            print(f"    {row}")


def synced_organisations(world: sync_world.World) -> list[tuple[int, str]]:
    """Organisations linked to an ACTIVE Xero contact by the migration that have an e-mail row."""
    with world.connect() as con:
        rows = con.execute(
            "select w.party_id, w.contact_id from ledger.written_contacts as w"
            " join staging.capsule_parties as p on p.party_id = w.party_id"
            " where p.party_type = 'organisation' and w.contact_status = 'ACTIVE'"
            " and p.email is not null order by w.party_id"
        ).fetchall()
    return [(int(party_id), str(contact_id)) for party_id, contact_id in rows]


def make_edits(world: sync_world.World, capsule_edits: int, xero_edits: int, seed: int) -> tuple[int, int]:
    """The day's edits on disjoint synced organisations; returns how many of each were made."""
    pairs = synced_organisations(world)
    random.Random(seed).shuffle(pairs)
    if len(pairs) < capsule_edits + xero_edits:
        print(
            f"only {len(pairs):,} synced organisations with an e-mail: edits cut to fit"
            f" (ask for fewer edits or more --parties)"
        )
        capsule_edits = min(capsule_edits, len(pairs) * capsule_edits // max(1, capsule_edits + xero_edits))
        xero_edits = min(xero_edits, len(pairs) - capsule_edits)
    in_capsule, in_xero = pairs[:capsule_edits], pairs[capsule_edits : capsule_edits + xero_edits]
    with closing(CapsuleControl(world.server.capsule_url)) as capsule:
        for number, (party_id, _) in enumerate(in_capsule):
            party = capsule.get_party(party_id)
            assert party is not None and party["emailAddresses"], party_id  # chosen for having one
            row = party["emailAddresses"][0]["id"]
            capsule.update_party(
                party_id, {"emailAddresses": [{"id": row, "address": f"sales{number}@capsule-edit.example"}]}
            )
    with XeroControl(world.server.xero_url) as xero:
        for number, (_, contact_id) in enumerate(in_xero):
            xero.edit_contact(
                contact_id,
                EmailAddress=f"billing{number}@xero-edit.example",
                Phones=[{"PhoneType": "MOBILE", "PhoneCountryCode": "61", "PhoneNumber": f"4{number:08d}"}],
            )
    return len(in_capsule), len(in_xero)


def bench(args: argparse.Namespace) -> None:
    # World and its sync read the module's SPEED and PACING when called: set them to --speed.
    sync_world.SPEED = args.speed
    sync_world.PACING = replace(sync_world.PACING, minute_seconds=60.0 / args.speed)
    started = time.perf_counter()
    dataset = generate(parties=args.parties, seed=args.seed)
    with tempfile.TemporaryDirectory() as home, sync_world.World(dataset, Path(home) / "home") as world:
        world.rules = Rules.model_validate(TWO_WAY)
        print(
            f"{args.parties:,} generated parties (seed {args.seed}), sandbox clock x{args.speed:g};"
            f" rules {TWO_WAY}; setup {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        migration = time.perf_counter()
        for number in range(1, MIGRATION_SYNCS + 1):
            if number > 1:
                # Capsule's 4,000 calls an hour stop a big migration's ContactID write-backs: the
                # next run goes after the reset, as the CLI's message says (as bench/apply.py does).
                with closing(CapsuleControl(world.server.capsule_url)) as control:
                    control.set_clock(advance_seconds=3600)
            run, _, xero, capsule = timed_sync(world, f"migration sync {number}")
            if not writes(xero) and not writes(capsule):
                break
        print(f"migration: {time.perf_counter() - migration:.1f} s in {number} sync(s) (not measured)")
        check_quiet(world, "quiet sync before the edits")

        edited = time.perf_counter()
        with closing(CapsuleControl(world.server.capsule_url)) as control:
            control.set_clock(advance_seconds=3600)  # a fresh Capsule hour for the day's sync
        capsule_edits, xero_edits = make_edits(world, args.capsule_edits, args.xero_edits, args.seed)
        print(
            f"the day's edits: {capsule_edits:,} Capsule e-mails, {xero_edits:,} Xero e-mails + mobiles"
            f" on other organisations ({time.perf_counter() - edited:.1f} s)",
            flush=True,
        )

        rss_reset = reset_peak_rss()
        run, wall, xero, capsule = timed_sync(world, "measured sync")
        peak = peak_rss_mib()
        print(f"  plan counts: {dict(run.plan.counts)}")
        xero_reads = [r for r in xero if r.method == "GET"]
        contact_reads = sum(1 for r in xero_reads if r.path == XERO_CONTACTS)
        contact_writes = sum(1 for r in writes(xero) if r.path == XERO_CONTACTS)
        capsule_reads = [r for r in capsule if r.method == "GET"]
        party_reads = sum(1 for r in capsule_reads if r.path == CAPSULE_PARTIES)
        party_puts = sum(
            1 for r in writes(capsule) if r.method == "PUT" and r.path.startswith(f"{CAPSULE_PARTIES}/")
        )
        print(
            f"  Xero: {len(xero):,} calls ({len(xero_reads):,} GET, {len(writes(xero)):,} writes);"
            f" contact reads {contact_reads:,} vs ceil({xero_edits:,}/{PAGE_SIZE}) = {max(1, math.ceil(xero_edits / PAGE_SIZE)):,};"
            f" contact writes {contact_writes:,} vs ceil({capsule_edits:,}/50) = {math.ceil(capsule_edits / 50):,}"
        )
        print(f"    reads: {by_method_path(xero_reads)}")
        print(
            f"    writes: {by_method_path(writes(xero))};"
            f" by status {dict(Counter(r.status for r in writes(xero)))}"
            f" (a write past the pacing's read timeout is retried with its Idempotency-Key)"
        )
        print(
            f"  Capsule: {len(capsule):,} calls ({len(capsule_reads):,} GET, {len(writes(capsule)):,} writes);"
            f" party list reads {party_reads:,} vs ceil({capsule_edits:,}/100) = {max(1, math.ceil(capsule_edits / 100)):,};"
            f" party PUTs {party_puts:,} vs {xero_edits:,} (one per party a Xero edit changed)"
        )
        if window := parties_changed_since(world, capsule):
            print(
                f"    the party read asked since={window[0]} (cursor less its 5-minute overlap): {window[1]:,}"
                f" parties changed after it, ceil(/100) = {max(1, math.ceil(window[1] / 100)):,} pages"
            )
        print(f"    reads: {by_method_path(capsule_reads)}")
        print(f"    writes: {by_method_path(writes(capsule))}")
        print(
            f"  wall time {wall:.1f} s (x{args.speed:g} clock; Xero's pacing floor at its real 60/min:"
            f" {len(xero) / 60:.1f} min for these {len(xero):,} calls)"
        )
        print(
            f"  peak RSS {'during the sync' if rss_reset else 'of the whole run'}: {peak:,.0f} MiB"
            f" (this process: the sandbox serving {args.parties:,} parties included)"
        )
        check_quiet(world, "quiet sync after (no echo)")
        print(f"total {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=10_000)
    parser.add_argument("--capsule-edits", type=int, default=1_000)
    parser.add_argument("--xero-edits", type=int, default=300)
    parser.add_argument(
        "--speed", type=float, default=60.0, help="sandbox clock speed-up (60: a minute is 1 s)"
    )
    parser.add_argument("--seed", type=int, default=11)
    bench(parser.parse_args())


if __name__ == "__main__":
    main()

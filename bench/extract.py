"""Extract figures: wall time, API calls against the minimum possible, and the extractor's peak memory.

    .venv/bin/python bench/extract.py                        # 10k and 100k parties, 100k Xero contacts
    .venv/bin/python bench/extract.py --parties 10000 --xero-contacts 10000
    .venv/bin/python bench/extract.py --xero-minute-seconds 1  # time-scale Xero's 60/min (see below)

The sandbox is served from this process; each extract runs in a child process of its own, so the
peak memory printed is the extractor's alone. Xero is read with its real limits by default: 60
calls a minute, so 100k contacts (100 pages of 1,000) take over 100 s of pacing by design.
``--xero-minute-seconds 1`` makes both the sandbox's minute and the client's pacer one second
long, to measure everything but the pacing.

Minimums: Capsule ceil(n/100) per listed resource (parties, opportunities, kases, tasks, users,
definitions, tags) plus one call per deleted feed; Xero ceil(n/1000) for contacts plus one call each
for groups and users.
"""

from __future__ import annotations

import argparse
import copy
import math
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and bench/sandbox.py would hide the
# `sandbox` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import httpx  # noqa: E402

from capsule_xero.settings import Settings  # noqa: E402
from capsule_xero.xero.auth import XeroAuth, login  # noqa: E402
from sandbox.app import Sandbox  # noqa: E402
from sandbox.capsule.control import CapsuleControl  # noqa: E402
from sandbox.control import SandboxControl  # noqa: E402
from sandbox.generator import Dataset, generate  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402


def _child(kind: str, env: dict[str, str], minute_seconds: float | None, out: Any) -> None:
    """One extract in a fresh process: report wall time and this process's peak RSS."""
    settings = Settings.from_env(env)
    started = time.perf_counter()
    if kind == "capsule":
        from pipelines.capsule import extract_capsule

        extract_capsule(settings)
    else:
        from pipelines.xero import PacingPolicy, XeroExtractConfig, run_xero_extract

        options = XeroExtractConfig.of(settings)
        if minute_seconds is not None:
            options = XeroExtractConfig(pacing=PacingPolicy(minute_seconds=minute_seconds))
        run_xero_extract(settings, options=options)
    out.put(
        {
            "wall": time.perf_counter() - started,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def run_child(kind: str, env: dict[str, str], minute_seconds: float | None = None) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(kind, env, minute_seconds, queue))
    process.start()
    result = queue.get(timeout=3600)
    process.join()
    return result


def pages(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


def capsule_minimum(dataset: Dataset) -> int:
    lists = [
        dataset.capsule_parties,
        dataset.capsule_opportunities,
        dataset.capsule_kases,
        dataset.capsule_tasks,
        dataset.capsule_field_definitions,
        dataset.capsule_tags,
    ]
    return sum(pages(len(records), 100) for records in lists) + 1 + 3  # users (not paged) + 3 deleted feeds


def bench_capsule(parties: int, seed: int) -> None:
    dataset = generate(parties=parties, seed=seed)
    sandbox = Sandbox(seed=seed)
    sandbox.load(dataset)
    with SandboxServer(sandbox) as server, tempfile.TemporaryDirectory() as home:
        CapsuleControl(server.capsule_url).set_rate_limit(limit=100_000)  # the figure is calls, not the hour
        control = SandboxControl(server.capsule_url)
        env = server.env() | {"CAPSULE_XERO_HOME": home}
        for label in ("full load", "unchanged rerun"):
            since = control.last_seq()
            figures = run_child("capsule", env)
            calls = control.calls("capsule", since)
            party_calls = sum(1 for c in calls if c["path"] == "/api/v2/parties")
            minimum = capsule_minimum(dataset) if label == "full load" else 0
            print(
                f"capsule {parties:>8,} parties  {label:<16} {figures['wall']:7.1f} s   calls {len(calls):>6,}"
                + (
                    f" (minimum {minimum:,}; parties {party_calls:,} vs ceil(n/100) = {pages(parties, 100):,})"
                    if minimum
                    else ""
                )
                + f"   peak RSS {figures['rss_mib']:6.0f} MiB",
                flush=True,
            )


def xero_contacts(n: int, seed: int) -> list[dict[str, Any]]:
    """n realistic contacts: the generator's Xero side, repeated with unique ids, names and numbers."""
    base = generate(parties=3000, seed=seed).xero_contacts
    rng = random.Random(seed)
    contacts = []
    for i in range(n):
        contact = copy.deepcopy(base[i % len(base)])
        contact["ContactID"] = str(uuid.UUID(int=rng.getrandbits(128)))
        contact["ContactNumber"] = f"BENCH-{i}"
        contact["Name"] = f"{contact['Name']} #{i}"
        contact["UpdatedDateUTC"] -= timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
        contacts.append(contact)
    return contacts


def bench_xero(n: int, seed: int, minute_seconds: float | None) -> None:
    speed = 60 / minute_seconds if minute_seconds else 1.0
    sandbox = Sandbox(seed=seed, speed=speed)
    sandbox.load(Dataset(seed=seed, size=n, xero_contacts=xero_contacts(n, seed)))
    with SandboxServer(sandbox) as server, tempfile.TemporaryDirectory() as home:
        env = server.env() | {"CAPSULE_XERO_HOME": home, "XERO_TENANT_ID": sandbox.xero.primary_tenant_id}
        browser = lambda url: httpx.get(url, follow_redirects=True, timeout=30)  # noqa: E731
        login(XeroAuth(Settings.from_env(env)), choose_tenant=lambda c: c[0], open_url=browser)
        control = SandboxControl(server.xero_url)
        for label in ("full load", "unchanged rerun"):
            since = control.last_seq()
            figures = run_child("xero", env, minute_seconds)
            calls = control.calls("xero", since)
            contact_calls = sum(1 for c in calls if c["path"].endswith("/Contacts"))
            stats = control.stats("xero", since)
            print(
                f"xero    {n:>8,} contacts {label:<16} {figures['wall']:7.1f} s   calls {len(calls):>6,}"
                f" (contacts {contact_calls:,} vs ceil(n/1000) = {pages(n, 1000):,}; 429s {stats['served_429']},"
                f" peak concurrency {max(stats['peak_concurrency'].values(), default=0)})"
                f"   peak RSS {figures['rss_mib']:6.0f} MiB",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--xero-contacts", type=int, default=100_000)
    parser.add_argument("--xero-minute-seconds", type=float, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for parties in args.parties:
        bench_capsule(parties, args.seed)
    if args.xero_contacts:
        bench_xero(args.xero_contacts, args.seed, args.xero_minute_seconds)


if __name__ == "__main__":
    main()

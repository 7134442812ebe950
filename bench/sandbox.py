"""Sandbox figures: generation time, time to serve every Capsule page, and peak memory.

    .venv/bin/python bench/sandbox.py                 # 100k parties (the issue's figure)
    .venv/bin/python bench/sandbox.py --parties 10000 --seed 3

The sandbox is served from a thread of this process, as tests run it, so "peak memory" covers the
generated dataset, the stand-ins' indexes and the client reading the pages. Reads go through
httpx exactly as a client would: ``perPage=100`` with ``embed=tags,fields``, following
``rel="next"`` until the last page.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# `sandbox` package it measures: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import httpx  # noqa: E402

from sandbox.app import Sandbox  # noqa: E402
from sandbox.capsule.control import CapsuleControl  # noqa: E402
from sandbox.generator import generate  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve_all_capsule_pages(server: SandboxServer, token: str) -> tuple[int, int, int]:
    """Read every party page; return (parties, pages, bytes)."""
    parties = pages = size = 0
    url: str | None = f"{server.capsule_url}/api/v2/parties"
    params: dict[str, str | int] | None = {"perPage": 100, "embed": "tags,fields"}
    with httpx.Client(
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=60
    ) as http:
        while url:
            response = http.get(url, params=params)
            response.raise_for_status()
            parties += len(response.json()["parties"])
            pages += 1
            size += len(response.content)
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries the query
    return parties, pages, size


def serve_all_xero_pages(server: SandboxServer, sandbox: Sandbox) -> tuple[int, int]:
    """Read every contact page at pageSize=1000 (limits lifted: this measures serving, not pacing)."""
    from sandbox.xero.control import XeroControl

    control = XeroControl(server.xero_url)
    tenant = sandbox.xero.primary_tenant_id
    control.set_limits(tenant, minute=10**9, day=10**9, app_minute=10**9)
    token = control.issue_token()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant, "Accept": "application/json"}
    contacts = pages = 0
    with httpx.Client(headers=headers, timeout=60) as http:
        page = 1
        while True:
            params = {"page": page, "pageSize": 1000, "includeArchived": "true"}
            body = (
                http.get(f"{server.xero_url}/api.xro/2.0/Contacts", params=params).raise_for_status().json()
            )
            pages += 1
            contacts += len(body["Contacts"])
            if page >= body["pagination"]["pageCount"]:
                break
            page += 1
    return contacts, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    dataset = generate(parties=args.parties, seed=args.seed)
    generated = time.perf_counter() - started
    print(
        f"generate   {args.parties:>9,} parties          {generated:8.2f} s   peak RSS {peak_rss_mib():8.0f} MiB"
    )

    sandbox = Sandbox(seed=args.seed)
    started = time.perf_counter()
    sandbox.load(dataset)
    loaded = time.perf_counter() - started
    summary = dataset.summary()
    print(
        f"load       {summary['xero']['contacts']:>9,} Xero contacts      {loaded:8.2f} s   peak RSS {peak_rss_mib():8.0f} MiB"
    )
    del dataset

    with SandboxServer(sandbox) as server:
        # Measure serving, not pacing: 100k parties are 1,000 pages, well inside 4,000/hour, but
        # larger runs are not; lift the limit so every size measures the same thing.
        CapsuleControl(server.capsule_url).set_rate_limit(limit=10**9)
        token = server.env()["CAPSULE_API_TOKEN"]
        started = time.perf_counter()
        parties, pages, size = serve_all_capsule_pages(server, token)
        served = time.perf_counter() - started
        print(
            f"capsule    {parties:>9,} parties in {pages:,} pages {served:8.2f} s   "
            f"({pages / served:.0f} pages/s, {size / 2**20:.0f} MiB)   peak RSS {peak_rss_mib():8.0f} MiB"
        )
        started = time.perf_counter()
        contacts, xero_pages = serve_all_xero_pages(server, sandbox)
        served = time.perf_counter() - started
        print(
            f"xero       {contacts:>9,} contacts in {xero_pages:,} pages {served:6.2f} s   "
            f"peak RSS {peak_rss_mib():8.0f} MiB"
        )
        assert parties == summary["capsule"]["parties"], "every party must be served exactly once"
        assert contacts == summary["xero"]["contacts"], "every Xero contact must be served exactly once"


if __name__ == "__main__":
    main()

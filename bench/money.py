"""Money figures: 100,000 invoices and 50,000 payments extracted from the Xero stand-in (calls against
ceil(n/page), wall time, the extractor's peak memory), then every money report built (wall time).

    .venv/bin/python bench/money.py                            # 100k invoices, 50k payments, real pacing
    .venv/bin/python bench/money.py --xero-minute-seconds 1    # time-scale Xero's 60 calls a minute
    .venv/bin/python bench/money.py --invoices 10000 --payments 5000

The book is written straight into the stand-in (not through 100k API creates): a generated world's
invoices and payments, repeated with fresh ids and numbers until there are ``--invoices`` invoices
(sales and bills) and ``--payments`` payments, each repeated payment paying the repeated copy of its
invoice. The Capsule side is the world's ``--parties`` parties, read first. The Xero extract runs in a
child process of its own, so the peak memory printed is the extractor's alone. With Xero's real
limits (60 calls a minute) the ~160 calls take over two minutes of pacing by design;
``--xero-minute-seconds 1`` shortens the sandbox's minute and the client's pacer alike.

Minimums: invoices and payments ceil(n/1000) each (Xero's largest page), credit notes ceil(n/1000),
quotes ceil(n/100) (no pageSize), plus one call each for items, accounts, tax rates, tracking
categories, currencies and the organisation, and the contacts' own calls. Figures only: no asserts.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and bench/sandbox.py would hide the
# `sandbox` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import duckdb  # noqa: E402
import httpx  # noqa: E402

from capsule_xero.rules.model import Rules  # noqa: E402
from capsule_xero.settings import Settings  # noqa: E402
from capsule_xero.xero.auth import XeroAuth, login  # noqa: E402
from sandbox.app import Sandbox  # noqa: E402
from sandbox.capsule.control import CapsuleControl  # noqa: E402
from sandbox.control import SandboxControl  # noqa: E402
from sandbox.generator import Dataset, generate  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402

MONEY = {"money": {"read": ["invoices", "quotes", "payments"]}}
PAGES = {"Invoices": 1000, "Payments": 1000, "CreditNotes": 1000, "Quotes": 100}


def scaled_book(dataset: Dataset, invoices: int, payments: int) -> Dataset:
    """``dataset`` with its invoices and payments repeated (fresh ids, numbers) to the counts asked."""
    base_invoices, base_payments = dataset.xero_invoices, dataset.xero_payments
    copies = max(math.ceil(invoices / len(base_invoices)), math.ceil(payments / max(1, len(base_payments))))
    new_invoices: list[dict[str, Any]] = []
    new_payments: list[dict[str, Any]] = []
    for copy in range(copies):

        def fresh(value: str, copy: int = copy) -> str:
            return value if copy == 0 else f"{copy:08x}{value[8:]}"

        for invoice in base_invoices:
            if len(new_invoices) == invoices:
                break
            new_invoices.append(
                {
                    **invoice,
                    "InvoiceID": fresh(invoice["InvoiceID"]),
                    "InvoiceNumber": invoice.get("InvoiceNumber") and f"{invoice['InvoiceNumber']}-{copy}",
                    "Payments": [
                        {**p, "PaymentID": fresh(p["PaymentID"])} for p in invoice.get("Payments") or []
                    ],
                }
            )
        for payment in base_payments:
            if len(new_payments) == payments:
                break
            paid = payment.get("Invoice") or {}
            new_payments.append(
                {
                    **payment,
                    "PaymentID": fresh(payment["PaymentID"]),
                    "Invoice": {**paid, "InvoiceID": fresh(paid["InvoiceID"])}
                    if paid.get("InvoiceID")
                    else paid,
                }
            )
    return replace(dataset, xero_invoices=new_invoices, xero_payments=new_payments)


def _child(env: dict[str, str], minute_seconds: float | None, out: Any) -> None:
    """The Xero extract with money on, in a fresh process: wall time and this process's peak RSS."""
    from pipelines.xero import PacingPolicy, XeroExtractConfig, run_xero_extract

    settings = Settings.from_env(env)
    options = XeroExtractConfig.of(settings)
    if minute_seconds is not None:
        options = XeroExtractConfig(pacing=PacingPolicy(minute_seconds=minute_seconds))
    started = time.perf_counter()
    run_xero_extract(settings, options=options, rules=Rules.model_validate(MONEY))
    out.put(
        {
            "wall": time.perf_counter() - started,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def run_child(env: dict[str, str], minute_seconds: float | None) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(env, minute_seconds, queue))
    process.start()
    result = queue.get(timeout=3600)
    process.join()
    return result


def build_reports(path: Path) -> None:
    """Reconcile (which creates the report views), then read every money report whole, timed."""
    from transform.money_checks import MONEY_REPORTS, check_money_report
    from transform.stages import reconcile

    rules = Rules.model_validate(MONEY)
    with duckdb.connect(str(path)) as con:
        started = time.perf_counter()
        reconcile(con, rules)
        print(
            f"reconcile (every stage, views included)          {time.perf_counter() - started:7.2f} s",
            flush=True,
        )
        total = 0.0
        for name in MONEY_REPORTS:
            started = time.perf_counter()
            rows = con.table(f"reports.{name}").fetchall()
            took = time.perf_counter() - started
            total += took
            started = time.perf_counter()
            check = check_money_report(con, name)
            checked = time.perf_counter() - started
            print(
                f"report {name:<33} {took:7.2f} s  {len(rows):>7,} rows"
                f"   check {checked:5.2f} s {'passed' if check.passed else 'FAILED'}"
                f" ({check.xero_documents:,} documents)",
                flush=True,
            )
        print(f"every money report                               {total:7.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--payments", type=int, default=50_000)
    parser.add_argument("--parties", type=int, default=2_000)
    parser.add_argument("--xero-minute-seconds", type=float, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    dataset = scaled_book(generate(parties=args.parties, seed=args.seed), args.invoices, args.payments)
    counts = {
        "Invoices": len(dataset.xero_invoices),
        "Payments": len(dataset.xero_payments),
        "CreditNotes": len(dataset.xero_credit_notes),
        "Quotes": len(dataset.xero_quotes),
    }
    speed = 60 / args.xero_minute_seconds if args.xero_minute_seconds else 1.0
    sandbox = Sandbox(seed=args.seed, speed=speed)
    sandbox.load(dataset)
    print(
        f"book: {counts['Invoices']:,} invoices, {counts['Payments']:,} payments, {counts['CreditNotes']:,} credit"
        f" notes, {counts['Quotes']:,} quotes over {args.parties:,} parties"
        f" (generated and loaded in {time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    with SandboxServer(sandbox) as server, tempfile.TemporaryDirectory() as home:
        CapsuleControl(server.capsule_url).set_rate_limit(limit=100_000)  # the figure is Xero's, not the hour
        env = server.env() | {"CAPSULE_XERO_HOME": home, "XERO_TENANT_ID": sandbox.xero.primary_tenant_id}
        settings = Settings.from_env(env)
        browser = lambda url: httpx.get(url, follow_redirects=True, timeout=30)  # noqa: E731
        login(
            XeroAuth(settings, rules=Rules.model_validate(MONEY)),
            choose_tenant=lambda c: c[0],
            open_url=browser,
        )

        from pipelines.capsule import extract_capsule

        started = time.perf_counter()
        extract_capsule(settings)
        print(
            f"capsule extract ({args.parties:,} parties)                 {time.perf_counter() - started:7.1f} s"
        )

        control = SandboxControl(server.xero_url)
        since = control.last_seq()
        figures = run_child(env, args.xero_minute_seconds)
        calls = control.calls("xero", since)
        pacing = (
            "real pacing" if args.xero_minute_seconds is None else f"a {args.xero_minute_seconds:g} s minute"
        )
        print(
            f"xero money extract ({pacing})       {figures['wall']:7.1f} s   calls {len(calls):,}"
            f"   peak RSS {figures['rss_mib']:6.0f} MiB",
            flush=True,
        )
        for path, page in PAGES.items():
            made = sum(1 for c in calls if c["path"].endswith(f"/{path}"))
            print(
                f"  {path:<12} {counts[path]:>8,} records  calls {made:>4} vs ceil(n/{page}) = {math.ceil(counts[path] / page)}"
            )
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
            loaded = con.execute("select count(*) from raw.xero_invoices").fetchall()[0][0]
            paid = con.execute("select count(*) from raw.xero_payments").fetchall()[0][0]
        print(f"  loaded: {loaded:,} invoices, {paid:,} payments", flush=True)
        build_reports(settings.duckdb_path)


if __name__ == "__main__":
    main()

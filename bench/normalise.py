"""Normaliser figures: rows per second of each cx_* function, row-by-row Python UDF vs SQL fast paths.

    .venv/bin/python bench/normalise.py                      # 100k and 1M distinct values each
    .venv/bin/python bench/normalise.py --sizes 100000
    mkdir -p /tmp/before && git show 5accb2b:transform/normalise.py > /tmp/before/normalise.py \
        && git show 5accb2b:transform/normalise.sql > /tmp/before/normalise.sql
    .venv/bin/python bench/normalise.py --before /tmp/before/normalise.py   # adds an earlier version

The values are the distinct raw values each function meets in the 1M-party world of
``bench/worlds.py`` (e-mails, phones, websites, ABNs and names of both sides; phones of Xero as the
staging model assembles them), so the mix of clean, odd and garbage shapes is the generator's. A
function with fewer distinct values than asked for runs on all it has (the count is printed).
"row" registers each ``cx_*`` as the Python function called row by row
(``register_normalisers(con, sql_fast_paths=False)``), "fast" as the macros of
``transform/sql/normalise.sql`` with the Python fallback. ``--before FILE`` adds a column for an
earlier ``transform/normalise.py`` that registered itself (``register(con)``, as before issue 12,
with its ``normalise.sql`` beside it). Rows/s are on CPU seconds (all threads), steadier
than wall time on a shared machine; the wall-time speed-up is printed too.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), str(_HERE)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import duckdb  # noqa: E402

from transform.sql import register_normalisers  # noqa: E402

# function → the distinct raw values it is called on (both sides).
INPUTS = {
    "cx_email": """
        select address as v from w.raw.capsule_parties__email_addresses
        union select email_address from w.raw.xero_contacts""",
    "cx_email_domain": """
        select address as v from w.raw.capsule_parties__email_addresses
        union select email_address from w.raw.xero_contacts""",
    "cx_company_domain": """
        select address as v from w.raw.capsule_parties__email_addresses
        union select coalesce(url, address) from w.raw.capsule_parties__websites
        union select email_address from w.raw.xero_contacts union select website from w.raw.xero_contacts""",
    "cx_website_domain": """
        select coalesce(url, address) as v from w.raw.capsule_parties__websites
        union select website from w.raw.xero_contacts""",
    "cx_phone_e164": """
        select number as v from w.raw.capsule_parties__phone_numbers
        union select case
            when coalesce(trim(phone_country_code), '') <> ''
                then '+' || regexp_replace(phone_country_code, '[^0-9]', '', 'g') || ' '
                || coalesce(phone_area_code, '') || ' ' || phone_number
            else concat_ws(' ', nullif(trim(phone_area_code), ''), phone_number)
        end from w.raw.xero_contacts__phones where coalesce(trim(phone_number), '') <> ''""",
    "cx_abn": """
        select value as v from w.raw.capsule_parties__fields where definition__name = 'ABN'
        union select tax_number from w.raw.xero_contacts""",
    "cx_abn_problem": """
        select value as v from w.raw.capsule_parties__fields where definition__name = 'ABN'
        union select tax_number from w.raw.xero_contacts""",
    "cx_fold_name": """
        select case when type = 'organisation' then name else concat_ws(' ', first_name, last_name) end as v
        from w.raw.capsule_parties
        union select name from w.raw.xero_contacts""",
}


def measure(world: Path, sizes: list[int], before: Path | None) -> None:
    cons = {}
    if before is not None:
        spec = importlib.util.spec_from_file_location("normalise_before", before)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cons["before"] = module.register(duckdb.connect())
    for mode, fast in (("row", False), ("fast", True)):
        cons[mode] = register_normalisers(duckdb.connect(), sql_fast_paths=fast)
    for con in cons.values():
        con.execute("attach ? as w (read_only)", [str(world)])
    columns = "".join(f" {mode + ' rows/cpu-s':>20}" for mode in cons)
    print(f"{'function':<18} {'values':>9}{columns}  cpu speed-up (wall)")
    for function, select in INPUTS.items():
        for size in sizes:
            figures = {}
            for mode, con in cons.items():
                con.execute(
                    f"create or replace temp table v as select v from ({select}) where v is not null order by hash(v) limit ?",  # noqa: S608
                    [size],
                )
                ((count,),) = con.execute("select count(*) from v").fetchall()
                con.execute(f"select max({function}(v)) from v").fetchall()  # noqa: S608 (warm-up, our names)
                wall, cpu = time.perf_counter(), time.process_time()
                con.execute(f"select max({function}(v)) from v").fetchall()  # noqa: S608 (our names)
                figures[mode] = (time.perf_counter() - wall, time.process_time() - cpu)
            slowest = figures["before" if "before" in figures else "row"]
            rates = "".join(f" {count / cpu:>20,.0f}" for _, cpu in figures.values())
            print(
                f"{function:<18} {count:>9,}{rates}  {slowest[1] / figures['fast'][1]:>5.1f}x"
                f" ({slowest[0] / figures['fast'][0]:.1f}x)",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--base-parties", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "capsule-xero-bench",
        help="world cache",
    )
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="an earlier transform/normalise.py (with register) to compare",
    )
    args = parser.parse_args()
    import worlds

    world, _ = worlds.world(args.work_dir, max(args.sizes), base_parties=args.base_parties, seed=args.seed)
    measure(world, args.sizes, args.before)


if __name__ == "__main__":
    main()

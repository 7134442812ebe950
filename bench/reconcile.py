"""Reconcile figures: wall time and peak memory of every stage of the reconcile on large worlds.

    .venv/bin/python bench/reconcile.py                      # 100k × 100k, then 1M × 1M
    .venv/bin/python bench/reconcile.py --parties 100000     # one size
    .venv/bin/python bench/reconcile.py --parties 1000000 --memory-limit 3GB

Targets (issue): 100k under 10 s; 1M under 90 s and 4 GB, on the 2-core machine.

Worlds come from ``bench/worlds.py`` (no HTTP at bench time): a 10k-party generated world extracted
once through the sandbox, replicated in DuckDB SQL to N parties and ~N Xero contacts (the exact
counts are printed), cached under ``--work-dir``. Each run copies the cached world to a fresh file
and runs the reconcile in a child process of its own against that file (one DuckDB file on disk,
default ``threads``, ``memory_limit`` from ``--memory-limit``), so the peak RSS printed (the child's
VmHWM) is the reconcile's alone: DuckDB's buffers, the Python fallbacks and pandas/pandera. Next to
each wall time is the child's CPU time (all its threads): on a machine shared with other work the
wall time wanders, the CPU time much less; with 2 idle cores, wall ≈ CPU / 2 for the SQL steps.

The reconcile is ``transform.stages.reconcile``, the ordered list of stages ``capsule-xero sync`` and
the Dagster assets run: one line per stage, and under a stage that builds several SQL models one
line per model. The ledger starts empty: a first run.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), str(_HERE)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def _vm_hwm_mib() -> float:
    """This process's peak resident set (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Timings:
    """(stage, model, (wall, cpu), rows out) per stage, and per SQL model inside a stage of several."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, tuple[float, float], Any]] = []
        self.models: list[tuple[str, tuple[float, float], int]] = []

    def model(self, build: Callable[..., int]) -> Callable[..., int]:
        """``transform.sql.build`` as the stages call it, timed."""

        def timed(con: Any, schema: str, table: str, *args: Any, **kwargs: Any) -> int:
            wall, cpu = time.perf_counter(), time.process_time()
            rows = build(con, schema, table, *args, **kwargs)
            self.models.append(
                (f"{schema}.{table}", (time.perf_counter() - wall, time.process_time() - cpu), rows)
            )
            return rows

        return timed

    def stage(self, stage: Any) -> Any:
        """``stage`` with its function timed."""

        def timed(*args: Any) -> dict[str, int]:
            self.models = []
            wall, cpu = time.perf_counter(), time.process_time()
            rows = stage.build(*args)
            self.rows.append(
                (
                    stage.name,
                    "",
                    (time.perf_counter() - wall, time.process_time() - cpu),
                    rows.get(stage.name),
                )
            )
            if len(self.models) > 1:
                self.rows += [(stage.name, model, figures, count) for model, figures, count in self.models]
            return rows

        return dataclasses.replace(stage, build=timed)


def _reconcile(con: Any, timings: Timings) -> None:
    """``transform.stages.reconcile`` with each stage, and each model of a stage, timed."""
    import transform.stages as stages

    # "Now" is the generated world's (CASES.md: 2026-07-01), so the History cut-off finds the
    # activity of its last 30 days, as a first run on live data would.
    from sandbox.generator import DEFAULT_NOW

    stages.build = timings.model(stages.build)
    stages.STAGES = tuple(timings.stage(stage) for stage in stages.STAGES)
    stages.reconcile(con, now=DEFAULT_NOW)


# ------------------------------------------------------------------------------------------ the run


def _child(db_path: str, memory_limit: str, out: Any) -> None:
    """The reconcile in a fresh process: each stage's wall and CPU time and rows, then the VmHWM."""
    import duckdb

    from reverse_etl.ledger.schema import ensure_ledger
    from transform.sql import register_functions

    timings = Timings()
    figures: dict[str, Any] = {}
    try:
        with duckdb.connect(db_path) as setup:  # the state of a first run: an empty ledger (not timed)
            ensure_ledger(setup)
        # Imports (pandas, pandera, pydantic ...) are the process's start-up, not the reconcile's work.
        import sandbox.generator  # noqa: F401
        import transform.stages  # noqa: F401

        started, cpu_started = time.perf_counter(), time.process_time()
        con = duckdb.connect(db_path)
        con.execute("set memory_limit = ?", [memory_limit])
        con.execute("set temp_directory = ?", [str(Path(db_path).parent / "spill")])
        register_functions(con)
        figures["threads"] = con.execute("select current_setting('threads')").fetchall()[0][0]
        try:
            _reconcile(con, timings)
        except Exception as error:
            timings.rows.append(("(stopped here)", "", (0.0, 0.0), _failure(error)))
            traceback.print_exc(file=sys.stderr)
        con.close()
        figures["total"] = (time.perf_counter() - started, time.process_time() - cpu_started)
    finally:
        figures["steps"] = timings.rows
        figures["peak_rss_mib"] = _vm_hwm_mib()
        out.put(figures)


def _failure(error: Exception) -> str:
    return f"failed: {type(error).__name__}: {str(error).splitlines()[0][:90]}"


def run_pipeline(db_path: Path, memory_limit: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(str(db_path), memory_limit, queue))
    process.start()
    figures = queue.get(timeout=3600)
    process.join()
    return figures


def report(figures: dict[str, Any]) -> None:
    print(f"  {'stage':<32} {'model':<32} {'wall s':>8} {'cpu s':>8}  rows out")
    for stage, model, (wall, cpu), rows in figures["steps"]:
        shown = f"{rows:,}" if isinstance(rows, int) else ("" if rows is None else str(rows))
        print(f"  {'' if model else stage:<32} {model:<32} {wall:8.2f} {cpu:8.2f}  {shown}")
    total = figures.get("total")
    print(f"  {'total':<65} {total[0]:8.2f} {total[1]:8.2f}" if total else "  total: the child failed")
    print(f"  peak RSS (child VmHWM) {figures['peak_rss_mib']:,.0f} MiB", flush=True)


def bench(parties: int, args: argparse.Namespace) -> None:
    import worlds

    world, info = worlds.world(
        args.work_dir,
        parties,
        xero_contacts=args.xero_contacts,
        base_parties=args.base_parties,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory(dir=args.work_dir, prefix="run-") as run_dir:
        db_path = Path(run_dir) / "capsule_xero.duckdb"
        shutil.copyfile(world, db_path)
        figures = run_pipeline(db_path, args.memory_limit)
    print(
        f"\n{info['parties']:,} Capsule parties × {info['xero_contacts']:,} Xero contacts"
        f" ({info['replicas']} Capsule / {info['xero_replicas']} Xero replicas of the {args.base_parties:,}-party"
        f" base, seed {args.seed}); threads {figures.get('threads')}, memory_limit {args.memory_limit}"
    )
    report(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--xero-contacts", type=int, default=None, help="default: as many as parties")
    parser.add_argument("--base-parties", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit for the pipeline")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "capsule-xero-bench",
        help="world cache",
    )
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    for parties in args.parties:
        bench(parties, args)


if __name__ == "__main__":
    main()

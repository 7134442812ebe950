"""Reconcile figures: wall time and peak memory of stage → validate → match → diff on large worlds.

    .venv/bin/python bench/reconcile.py                      # 100k × 100k, then 1M × 1M
    .venv/bin/python bench/reconcile.py --parties 100000     # one size
    .venv/bin/python bench/reconcile.py --parties 1000000 --memory-limit 3GB

Targets (issue): 100k under 10 s; 1M under 90 s and 4 GB, on the 2-core machine.

Worlds come from ``bench/worlds.py`` (no HTTP at bench time): a 10k-party generated world extracted
once through the sandbox, replicated in DuckDB SQL to N parties and ~N Xero contacts (the exact
counts are printed), cached under ``--work-dir``. Each run copies the cached world to a fresh file
and runs the pipeline in a child process of its own against that file (one DuckDB file on disk,
default ``threads``, ``memory_limit`` from ``--memory-limit``), so the peak RSS printed (the child's
VmHWM) is the pipeline's alone: DuckDB's buffers, the Python fallbacks and pandas/pandera. Next to
each wall time is the child's CPU time (all its threads): on a machine shared with other work the
wall time wanders, the CPU time much less; with 2 idle cores, wall ≈ CPU / 2 for the SQL steps.

The pipeline is ``transform.stages.reconcile`` (stage → match → desire → diff, as ``capsule-xero
sync`` runs it), with each table it builds timed on its own: every ``build`` of a model, the
pandera quarantine, ``build_sync_scope``, ``apply_transforms`` and the report views. Until
``transform.stages`` exists, the bench builds every model of ``transform/sql/reconcile`` itself in the
order their inputs allow; a step whose module or model does not exist yet prints "not built yet".
The ledger starts empty: a first run.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import re
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

NOT_BUILT = "not built yet"


def _vm_hwm_mib() -> float:
    """This process's peak resident set (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _optional(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _rows(result: Any) -> Any:
    """Rows out of whatever a step returns: a count, (quarantine rows, drift), a frame, or nothing."""
    if isinstance(result, tuple) and result:
        result = result[0]
    if isinstance(result, int) or result is None:
        return result
    return len(result) if hasattr(result, "__len__") else result


class Steps:
    """The timed steps of one run: (group, step, (wall, cpu) or None, rows out)."""

    def __init__(self) -> None:
        self.group = ""
        self.rows: list[tuple[str, str, tuple[float, float] | None, Any]] = []

    def timed(self, label: Callable[..., str], function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            result = function(*args, **kwargs)
            seconds = (time.perf_counter() - wall, time.process_time() - cpu)
            step = label(*args, **kwargs)
            group = "validate" if step.startswith("validate") else self.group
            self.rows.append((group, step, seconds, _rows(result)))
            return result

        return run

    def run(self, group: str, step: str, function: Callable[[], Any]) -> None:
        self.group = group
        try:
            result = self.timed(lambda: step, function)()
            if isinstance(result, str) and result == NOT_BUILT:
                self.rows[-1] = (self.rows[-1][0], step, None, NOT_BUILT)
        except Exception as error:  # a step still in the making: report it, go on
            self.rows.append((group, step, None, _failure(error)))
            traceback.print_exc(file=sys.stderr)


def _failure(error: Exception) -> str:
    return f"failed: {type(error).__name__}: {str(error).splitlines()[0][:90]}"


# ------------------------------------------------------------------------ through transform.stages


def _via_pipeline(con: Any, steps: Steps) -> None:
    """``transform.stages.reconcile`` with each table it builds timed (its module's names wrapped)."""
    import transform.plan_tables as plan
    import transform.stages as pipeline

    model = lambda con, schema, table, *rest, **kw: f"{schema}.{table}"  # noqa: E731
    pipeline.build = steps.timed(model, pipeline.build)
    plan.build = steps.timed(model, plan.build)
    for name, label in (
        ("build_quarantine", "validate: pandera quarantine"),
        ("build_sync_scope", "reconcile.sync_scope"),
        ("apply_transforms", "reconcile.desired_contacts"),
        ("create_report_views", "report views"),
    ):
        if hasattr(pipeline, name):
            setattr(
                pipeline, name, steps.timed(lambda *a, _label=label, **k: _label, getattr(pipeline, name))
            )

    def on_stage(name: str, seconds: float) -> None:
        steps.group = {"stage": "match", "match": "desire", "desire": "diff"}.get(name, "")

    steps.group = "stage"
    try:
        # "Now" is the generated world's (CASES.md: 2026-07-01), so the History cut-off finds the
        # activity of its last 30 days, as a first run on live data would.
        from sandbox.generator import DEFAULT_NOW

        pipeline.reconcile(con, on_stage=on_stage, now=DEFAULT_NOW)
    except Exception as error:
        steps.rows.append((steps.group, "(the pipeline stopped here)", None, _failure(error)))
        traceback.print_exc(file=sys.stderr)


# --------------------------------------------------------------- without it: every model we find

# Tables built by Python rather than by a model of their own name: (module, function, its inputs).
PYTHON_BUILT = {
    "reconcile.sync_scope": ("transform.rules_sql", "build_sync_scope", {"staging.capsule_parties"}),
    "reconcile.desired_contacts": ("transform.rules_sql", "apply_transforms", {"reconcile.mapped_contacts"}),
}
_TABLE_RE = re.compile(r"\b((?:staging|reconcile|ledger)\.[a-z_]+)\b")


def _reads(sql_path: Path) -> set[str]:
    text = "\n".join(line.split("--", 1)[0] for line in sql_path.read_text().splitlines())
    return set(_TABLE_RE.findall(text))


def plan_order(sql_dir: Path) -> list[str]:
    """Every reconcile table the checkout can build, models and Python-built ones, inputs first."""
    inputs = {
        f"reconcile.{path.stem}": _reads(path) for path in sorted((sql_dir / "reconcile").glob("*.sql"))
    }
    inputs |= {table: reads for table, (_, _, reads) in PYTHON_BUILT.items()}
    done = {"staging.capsule_parties", "staging.xero_contacts", "staging.quarantine"}
    done |= {t for reads in inputs.values() for t in reads if t.startswith("ledger.")}
    order: list[str] = []
    while inputs:
        ready = sorted(table for table, reads in inputs.items() if reads <= done | {table})
        if not ready:  # a cycle or a missing input: build the rest in name order and let them say why
            ready = sorted(inputs)
        for table in ready:
            order.append(table)
            done.add(table)
            inputs.pop(table)
    return order


def _model_by_model(con: Any, steps: Steps) -> None:
    from capsule_xero.rules import Rules
    from transform.sql import SQL_DIR, build

    rules = Rules()
    params = rules.sql_params()

    def model(schema: str, table: str) -> Callable[[], Any]:
        path = SQL_DIR / schema / f"{table}.sql"
        return lambda: build(con, schema, table, params) if path.exists() else NOT_BUILT

    def validate() -> Any:
        build_quarantine = _optional("transform.validation", "build_quarantine")
        return NOT_BUILT if build_quarantine is None else len(build_quarantine(con)[0])

    def python_built(table: str) -> Callable[[], Any]:
        module, name, _ = PYTHON_BUILT[table]
        function = _optional(module, name)
        return lambda: NOT_BUILT if function is None else function(con, rules)

    steps.run("stage", "staging.capsule_parties", model("staging", "capsule_parties"))
    steps.run("stage", "staging.xero_contacts", model("staging", "xero_contacts"))
    steps.run("stage", "validate: pandera quarantine", validate)
    for table in plan_order(SQL_DIR):
        group = "match" if table in ("reconcile.sync_scope", "reconcile.contact_matches") else "diff"
        run = python_built(table) if table in PYTHON_BUILT else model("reconcile", table.split(".", 1)[1])
        steps.run(group, table, run)


# ------------------------------------------------------------------------------------------ the run


def _child(db_path: str, memory_limit: str, out: Any) -> None:
    """The pipeline in a fresh process: each step's wall and CPU time and rows, then the VmHWM."""
    import duckdb

    from transform.sql import register_functions

    steps = Steps()
    figures: dict[str, Any] = {}
    try:
        ensure_ledger = _optional("reverse_etl.ledger.schema", "ensure_ledger")
        if ensure_ledger is not None:  # the state of a first run: an empty ledger (setup, not timed)
            with duckdb.connect(db_path) as setup:
                ensure_ledger(setup)
        # Imports (pandas, pandera, pydantic ...) are the process's start-up, not the pipeline's work.
        via_pipeline = _optional("transform.stages", "reconcile") is not None
        for module in (
            "transform.validation",
            "transform.rules_sql",
            "transform.plan_tables",
            "sandbox.generator",
        ):
            _optional(module, "__name__")
        started, cpu_started = time.perf_counter(), time.process_time()
        con = duckdb.connect(db_path)
        con.execute("set memory_limit = ?", [memory_limit])
        con.execute("set temp_directory = ?", [str(Path(db_path).parent / "spill")])
        register_functions(con)
        figures["threads"] = con.execute("select current_setting('threads')").fetchall()[0][0]
        if via_pipeline:
            figures["via"] = "transform.stages.reconcile"
            _via_pipeline(con, steps)
        else:
            figures["via"] = "each model in input order (transform.stages not built yet)"
            _model_by_model(con, steps)
        con.close()
        figures["total"] = (time.perf_counter() - started, time.process_time() - cpu_started)
    finally:
        figures["steps"] = steps.rows
        figures["peak_rss_mib"] = _vm_hwm_mib()
        out.put(figures)


def run_pipeline(db_path: Path, memory_limit: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(str(db_path), memory_limit, queue))
    process.start()
    figures = queue.get(timeout=3600)
    process.join()
    return figures


def report(figures: dict[str, Any]) -> None:
    print(f"  {'stage':<8} {'step':<36} {'wall s':>8} {'cpu s':>8}  rows out")
    groups: dict[str, list[float]] = {}
    for group, step, seconds, rows in figures["steps"]:
        wall, cpu = ("", "") if seconds is None else (f"{seconds[0]:8.2f}", f"{seconds[1]:8.2f}")
        if seconds is not None:
            total = groups.setdefault(group, [0.0, 0.0])
            total[0], total[1] = total[0] + seconds[0], total[1] + seconds[1]
        shown = f"{rows:,}" if isinstance(rows, int) else ("" if rows is None else str(rows))
        print(f"  {group:<8} {step:<36} {wall:>8} {cpu:>8}  {shown}")
    for group, (wall, cpu) in groups.items():
        print(f"  {group:<8} {'(stage total)':<36} {wall:8.2f} {cpu:8.2f}")
    total = figures.get("total")
    print(f"  {'total':<45} {total[0]:8.2f} {total[1]:8.2f}" if total else "  total: the child failed")
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
        f" base, seed {args.seed}); threads {figures.get('threads')}, memory_limit {args.memory_limit};"
        f" via {figures.get('via')}"
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

"""dlt sources for Capsule and Xero (one folder per source). Never imports dagster."""

import os
from pathlib import Path

# A self-hosted sync holding a business's customer list does not phone home: dlt's anonymous
# usage telemetry (an HTTPS call on every pipeline step) is off unless the user turns it back on.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


def prepare_dlt(home: Path, pipeline_name: str) -> Path:
    """dlt's folders and housekeeping for one pipeline; returns its ``pipelines_dir``.

    - the working folder lives under CAPSULE_XERO_HOME, and so does dlt's global folder (dlt writes
      an ``.anonymous_id`` there on every step, telemetry or not: ``~/.dlt``, or ``/var/dlt`` as root);
    - completed load packages are not kept (a full read of 100k records is tens of MB each time)
      and the merge's staging copy in DuckDB is emptied after each load.
    """
    from dlt.common.runtime import run_context

    folder = Path(home) / "dlt"
    folder.mkdir(parents=True, exist_ok=True)
    context = run_context.active()
    if hasattr(context, "_global_dir"):  # a private attribute of dlt 1.31's RunContext (pinned)
        context._global_dir = str(folder)
    os.environ.setdefault(f"{pipeline_name.upper()}__LOAD__DELETE_COMPLETED_JOBS", "true")
    os.environ.setdefault(f"{pipeline_name.upper()}__LOAD__TRUNCATE_STAGING_DATASET", "true")
    return folder


def find_cause(exc: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of ``types`` inside what dlt raised, or None.

    dlt wraps a source's own errors (PipelineStepFailed -> ResourceExtractionError -> ...), through
    ``__cause__``, ``__context__`` and its own ``exception`` attribute; the API's message a person
    can act on is the one inside.
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, types):
            return current
        stack += [current.__cause__, current.__context__, getattr(current, "exception", None)]
    return None

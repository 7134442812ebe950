"""A what-if code location for bench/tenants.py: the product's Definitions (assets/definitions.py) with
the Xero pacer's minute (``PacingPolicy.minute_seconds``, 60 in production) set to
``BENCH_XERO_MINUTE_SECONDS``, read when this location loads in the daemon's code server and again in
each run worker, so the client's minute matches the sandbox's scaled clock.

Everything else is the product's own object. Only ``bench/tenants.py --xero-minute-seconds N`` with N
other than 60 loads it; the product's figures use the deploy folder's workspace.yaml.
"""

import dataclasses
import os

import dagster as dg

import assets.definitions as product_location  # the module: one @dg.definitions per module
from capsule_xero.xero.pacing import PacingPolicy


def _scaled_minute() -> None:
    """Every PacingPolicy() made from here on (the extract's, the writer's) has the scaled minute."""
    seconds = float(os.environ.get("BENCH_XERO_MINUTE_SECONDS") or 60.0)
    names = [f.name for f in dataclasses.fields(PacingPolicy) if f.init]
    defaults = list(PacingPolicy.__init__.__defaults__ or ())
    # The dataclass's __init__ keeps its defaults for the trailing parameters, in field order.
    offset = len(names) - len(defaults)
    defaults[names.index("minute_seconds") - offset] = seconds
    PacingPolicy.__init__.__defaults__ = tuple(defaults)


_scaled_minute()


@dg.definitions
def defs() -> dg.Definitions:
    return product_location.defs()

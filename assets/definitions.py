"""The one Dagster ``Definitions`` of capsule-xero.

It loads in ``dagster dev`` with no credential set: secrets are read when an asset runs, and a
missing one is named then. Reconcile and reverse-ETL assets join it as they are built.
"""

import dagster as dg
from dagster_dlt import DagsterDltResource

from assets.extract import capsule_extract, xero_extract

defs = dg.Definitions(
    assets=[capsule_extract, xero_extract],
    resources={"dlt": DagsterDltResource()},
)

"""The one Dagster ``Definitions`` of capsule-xero.

It must load in ``dagster dev`` with no credential set: settings are read when an asset runs,
never at import. Extract, reconcile and reverse-ETL assets join it as they are built.
"""

import dagster as dg

defs = dg.Definitions(assets=[])

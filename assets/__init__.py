"""The Dagster code location: Definitions, resources, assets, checks, jobs, schedules, sensors."""

import os

from capsule_xero.settings import PRIVATE_UMASK

# The code location is an entry point like the command line: what it and its runs write (the DuckDB
# file, dlt's state, Dagster's storage) holds customer data, readable by its owner only. Set before
# any asset module creates a folder or a file while loading.
os.umask(PRIVATE_UMASK)

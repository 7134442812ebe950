"""dlt sources for Capsule and Xero (one folder per source). Never imports dagster."""

import os

# A self-hosted sync holding a business's customer list does not phone home: dlt's anonymous
# usage telemetry is off unless the user turns it back on explicitly.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

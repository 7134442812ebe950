"""dlt sources for Capsule and Xero (one folder per source). Never imports dagster."""

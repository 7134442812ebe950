"""Plan, approve and apply the diff to Xero with httpx; ledger and writers. Never imports dagster."""

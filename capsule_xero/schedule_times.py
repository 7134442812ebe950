"""When Dagster's automatic runs happen, for the schedule itself (assets/schedules.py) and for
``capsule-xero status``, which says when they next run without loading Dagster's definitions."""

NIGHTLY_CRON = "0 2 * * *"
SYDNEY = "Australia/Sydney"
SCHEDULE_NAME = "nightly_reconciliation_schedule"
POLLING_SENSOR_NAME = "capsule_changes_sensor"  # assets/sensors/polling.py

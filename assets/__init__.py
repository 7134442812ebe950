"""The Dagster code location: Definitions, resources, assets, checks, jobs, schedules, sensors."""

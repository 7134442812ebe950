"""The Dagster code location (assets/definitions.py): assets, checks, jobs, schedules, sensors, resources.

Importing any module here reads no setting and creates no file: settings are read when the code
location loads (assets/definitions.py) and when a step or a sensor tick runs.
"""

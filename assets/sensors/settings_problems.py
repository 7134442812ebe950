"""What the Dagster UI shows while a setting is wrong, instead of a code location that fails to load.

The code location always loads (every value read while loading falls back to its default), so the
UI can say what is wrong:

- every sensor and schedule is replaced by one sensor, ``capsule_xero_settings``, running by default,
  whose every tick is skipped with the wrong settings, one per line: turning the real ones on would
  only start runs that fail;
- a run started by hand fails at its first step, before it reads or writes anything, with the same
  lines (``Settings.from_env`` raises ``SettingsError``);
- the lines are also in the code location's metadata and in the log of the process that loads it.
"""

from __future__ import annotations

import logging

import dagster as dg

SENSOR_NAME = "capsule_xero_settings"
CHECK_SECONDS = 60

log = logging.getLogger(__name__)


def explain(problems: list[str]) -> str:
    return (
        "capsule-xero does not run until these settings are fixed in the environment Dagster runs in"
        " (then restart `capsule-xero ui`; .env.example lists every setting, docs/operations.md#settings"
        " explains them):\n" + "\n".join(f"- {problem}" for problem in problems)
    )


def settings_problems_sensor(problems: list[str]) -> dg.SensorDefinition:
    """The one sensor loaded while ``problems`` stand: it says what they are at every tick."""
    text = explain(problems)
    log.error(text)

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=CHECK_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=text,
    )
    def capsule_xero_settings(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        return dg.SkipReason(text)

    return capsule_xero_settings

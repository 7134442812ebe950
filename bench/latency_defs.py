"""A what-if code location for bench/latency.py: the product's Definitions (assets/definitions.py) with
``webhook_events_sensor``'s ``minimum_interval_seconds`` taken from ``BENCH_WEBHOOK_SENSOR_SECONDS``
in the environment the Dagster processes get (the product's is a constant in assets/webhook_sensor.py).

Everything else (assets, jobs, the other sensors, resources, the sensor's own function) is the
product's own object. Only ``bench/latency.py --runner dagster --webhook-tick N`` with N other than
the product's interval loads it; the product's figures use workspace.yaml.
"""

import os

import dagster as dg

import assets.definitions as product  # a module, not its `defs`: one Definitions object per module
from assets.webhook_sensor import webhook_events_sensor

WEBHOOK_SECONDS = int(
    os.environ.get("BENCH_WEBHOOK_SENSOR_SECONDS") or webhook_events_sensor.minimum_interval_seconds
)


def _webhook_sensor(seconds: int) -> dg.SensorDefinition:
    return dg.SensorDefinition(
        name=webhook_events_sensor.name,
        evaluation_fn=webhook_events_sensor._raw_fn,  # the product's function itself
        job_name=webhook_events_sensor.job_name,
        minimum_interval_seconds=seconds,
        default_status=webhook_events_sensor.default_status,
        description=webhook_events_sensor.description,
    )


defs = dg.Definitions(
    assets=product.defs.assets,
    asset_checks=product.defs.asset_checks,
    jobs=product.defs.jobs,
    schedules=product.defs.schedules,
    sensors=[
        _webhook_sensor(WEBHOOK_SECONDS) if sensor.name == webhook_events_sensor.name else sensor
        for sensor in product.defs.sensors or []
    ],
    resources=product.defs.resources,
    executor=product.defs.executor,
)

"""A what-if code location for bench/latency.py: the product's Definitions (assets/definitions.py) with
``webhook_events_sensor`` ticking every ``BENCH_WEBHOOK_SENSOR_SECONDS`` (read when this location
loads, in the environment the Dagster processes get) instead of the product's constant
(assets/sensors/webhooks.py).

Everything else (assets, jobs, the other sensors, resources, the sensor's own function) is the
product's own object. Only ``bench/latency.py --runner dagster --webhook-tick N`` with N other than
the product's interval loads it; the product's figures use workspace.yaml.
"""

import os

import dagster as dg

import assets.definitions as product_location  # the module: one @dg.definitions per module
from assets.sensors.webhooks import TICK_SECONDS, webhook_events_sensor, webhook_sensor


@dg.definitions
def defs() -> dg.Definitions:
    product = product_location.defs()
    seconds = int(os.environ.get("BENCH_WEBHOOK_SENSOR_SECONDS") or TICK_SECONDS)
    return dg.Definitions(
        assets=product.assets,
        asset_checks=product.asset_checks,
        jobs=product.jobs,
        schedules=product.schedules,
        sensors=[
            webhook_sensor(seconds) if sensor.name == webhook_events_sensor.name else sensor
            for sensor in product.sensors or []
        ],
        resources=product.resources,
        executor=product.executor,
        metadata=product.metadata,
    )

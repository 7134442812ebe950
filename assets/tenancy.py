"""Tenants as Dagster partitions: with a tenants file, every asset, check and job is partitioned by the
clients' names (docs/operations.md#for-consultants), and a run's partition is the client it reads and
writes, in ``$CAPSULE_XERO_HOME/tenants/<name>/`` only. Without a tenants file there are no partitions
and nothing changes.

Static partitions, not dynamic ones: the tenants file is the record of who the clients are, checked
line by line (capsule_xero/tenants.py). Dynamic partitions would be a second record, in Dagster's
storage, that could disagree with it (a client removed from the file but still a partition, or added
to Dagster by hand with no folder, token or organisation). Adding a client is an edit of the file and
a reload of the code location (the UI's Reload button, or a restart of the services).

Every run carries ``capsule_xero/tenant=<name>``: the run queue admits one run per value
(cli/deploy.py, cli/ui.py), since all of a client's runs write its one DuckDB file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence

import dagster as dg

from capsule_xero.settings import Settings, SettingsError
from capsule_xero.tenants import (
    PARTITION_TAG,
    TENANT_TAG,
    TENANT_VARIABLE,
    Tenants,
    chosen_tenant,
    read_tenants,
)

__all__ = [
    "PARTITION_TAG",
    "TENANT_TAG",
    "run_tenant",
    "settings_for_run",
    "settings_of_tenant",
    "tenant_partitions",
    "tenant_tags",
]


def tenant_partitions(environ: Mapping[str, str] | None = None) -> dg.StaticPartitionsDefinition | None:
    """The clients of the tenants file as partitions, in the file's order; None without a tenants file.

    ``TenantsError`` (one line per problem) when the file cannot be used.
    """
    tenants = read_tenants(os.environ if environ is None else environ)
    return partitions_of(tenants)


def partitions_of(tenants: Tenants | None) -> dg.StaticPartitionsDefinition | None:
    return None if tenants is None else dg.StaticPartitionsDefinition(tenants.names)


def tenant_tags(name: str) -> dict[str, str]:
    """The run tags of a run for client ``name``."""
    return {TENANT_TAG: name}


def run_tenant(run_or_tags: dg.DagsterRun | Mapping[str, str] | None) -> str:
    """The client a run is for (its partition, or its tenant tag); "" for a run that names none."""
    if run_or_tags is None:
        return ""
    tags = run_or_tags.tags if isinstance(run_or_tags, dg.DagsterRun) else run_or_tags
    return (tags.get(PARTITION_TAG) or tags.get(TENANT_TAG) or "").strip()


def settings_of_tenant(name: str, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of client ``name``: its folder, Capsule token and address, organisation and rules."""
    return Settings.from_env({**(os.environ if environ is None else environ), TENANT_VARIABLE: name})


def settings_for_run(run_or_tags: dg.DagsterRun | Mapping[str, str] | None) -> Settings:
    """The settings a step of this run reads and writes with: its client's, or without tenants, as always.

    A run that names no client on an install with a tenants file fails here, before it reads or writes
    anything: the top-level home holds no client's data, and guessing one would mix two clients' files.
    """
    name = run_tenant(run_or_tags)
    if name:
        return settings_of_tenant(name)
    if not chosen_tenant(os.environ):
        tenants = read_tenants(os.environ)
        if tenants is not None:
            raise SettingsError(
                [
                    f"This run names no client, and this install has several ({tenants.path}): launch it"
                    f" for one partition (tenants: {', '.join(tenants.names) or 'none yet'})"
                ]
            )
    return Settings.from_env()


def every_tenants_tick(
    requests: Sequence[dg.RunRequest],
    skipped: Sequence[str],
    cursors: Mapping[str, object] | None,
    log: Callable[[str], None],
    asset_events: Sequence[dg.AssetMaterialization] = (),
) -> dg.SensorResult:
    """One sensor tick across the clients: their runs, each client's cursor, and why a client got no
    run. Dagster takes no skip reason beside run requests or asset events, so then the reasons go to
    ``log`` (the tick's log); with neither they are the skip reason, one line per client."""
    cursor = None if cursors is None else json.dumps(cursors, sort_keys=True, separators=(",", ":"))
    if not requests and not asset_events:
        return dg.SensorResult(skip_reason="\n".join(skipped), cursor=cursor)
    for reason in skipped:
        log(reason)
    return dg.SensorResult(run_requests=list(requests), asset_events=list(asset_events), cursor=cursor)

"""Dagster resources of capsule-xero beyond dlt and DuckDB."""

from pathlib import Path
from typing import Optional

import dagster as dg

from capsule_xero.rules import Rules, load_rules
from capsule_xero.settings import Settings


class RulesResource(dg.ConfigurableResource):
    """The rules file (``capsule-xero.yaml``): read when an asset runs, so a broken file fails that run
    with the line and the problem, while the code location still loads."""

    config_file: Optional[str] = None  # noqa: UP045 - Dagster's config schema needs Optional

    def load(self) -> Rules:
        path = self.config_file or Settings.from_env().config_file
        return load_rules(None if path is None else Path(path))

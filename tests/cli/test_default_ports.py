"""The webhook receiver's default port clashes with nothing else the project serves by default: the
sandbox's Xero and Capsule stand-ins (`sandbox`, `demo`), the Dagster UI (`ui`) and the sign-in's
loopback callback (`auth login`). A receiver started next to the demo must not fail to bind, nor
answer for the Xero stand-in."""

from __future__ import annotations

from typing import Any

import click
import typer.main

from capsule_xero.settings import Settings
from cli import app as cli


def port_defaults(command: click.Command, path: str = "") -> dict[str, int]:
    """Every ``--*port`` option's default, by command path (e.g. ``"sandbox xero_port"``)."""
    found: dict[str, int] = {}
    for name, sub in getattr(command, "commands", {}).items():
        found |= port_defaults(sub, f"{path}{name} ")
    for param in command.params:
        default: Any = param.default
        if param.name and "port" in param.name and isinstance(default, int) and default:
            found[f"{path}{param.name}"] = default
    return found


def test_the_webhook_receivers_default_port_is_served_by_nothing_else_in_the_project() -> None:
    served = port_defaults(typer.main.get_command(cli.app))
    # `demo --port P` serves Xero on P and Capsule on P + 10.
    served["demo capsule port"] = served["demo port"] + 10
    assert {"sandbox xero_port", "sandbox capsule_port", "ui port", "auth login port"} <= served.keys()

    default = Settings.from_env({}).webhook_port
    assert default not in served.values(), {name: port for name, port in served.items() if port == default}

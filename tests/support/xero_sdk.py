"""Building the official xero-python SDK's configuration safely inside one test process."""

from __future__ import annotations

from typing import Any


def sdk_configuration(oauth2_token: Any) -> Any:
    """A fresh ``Configuration`` holding ``oauth2_token``.

    xero-python's ``Configuration`` uses a ``TypeWithDefault`` metaclass: the first instance made in
    a process becomes a default and every later ``Configuration(...)`` returns a copy of it, silently
    ignoring its arguments. Two tests with different client ids in one worker would then share the
    first one's credentials, so the token is set on the instance after construction.
    """
    from xero_python.api_client import Configuration

    configuration = Configuration()
    configuration.oauth2_token = oauth2_token
    return configuration

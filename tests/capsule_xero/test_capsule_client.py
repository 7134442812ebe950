"""The one Capsule client (write-back, polling sensor): paced, authorised, every failure a CapsuleError."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from capsule_xero.capsule.client import CapsuleClient
from capsule_xero.capsule.errors import CapsuleRequestRejected
from capsule_xero.capsule.pacing import CapsulePacer, shared_pacer
from capsule_xero.settings import Settings
from sandbox.server import SandboxServer

WRONG_TOKEN = "not-a-capsule-token-" + "q" * 24


def settings_for(server: SandboxServer, tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({**server.env(), "CAPSULE_XERO_HOME": str(tmp_path / "home"), **env})


def quick_pacer() -> CapsulePacer:
    return CapsulePacer(attempts=2, backoff_initial=0.0, backoff_max=0.0, backoff_jitter=0.0)


def test_a_refused_token_is_one_capsule_error_naming_the_setting_and_never_the_token(
    server: SandboxServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_for(server, tmp_path, CAPSULE_API_TOKEN=WRONG_TOKEN)
    with CapsuleClient.of(settings, pacer=quick_pacer()) as client:
        with pytest.raises(CapsuleRequestRejected) as refused:
            client.get("/parties", params={"perPage": 1})
        assert WRONG_TOKEN not in repr(client) and WRONG_TOKEN not in repr(client.http.auth)
    assert refused.value.status == 401
    assert "CAPSULE_API_TOKEN" in str(refused.value) and "GET /parties" in str(refused.value)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for text in (str(refused.value), repr(refused.value), refused.value.detail, logged):
        assert WRONG_TOKEN not in text


def test_a_refused_parameter_is_rejected_once_in_capsules_own_words(
    server: SandboxServer, tmp_path: Path
) -> None:
    pacer = quick_pacer()
    with CapsuleClient.of(settings_for(server, tmp_path), pacer=pacer) as client:
        with pytest.raises(CapsuleRequestRejected) as refused:
            client.get("/parties", params={"perPage": 101})  # Capsule allows 1..100
        assert client.get("/parties", params={"perPage": 1}).json() == {"parties": []}  # an empty account
    assert refused.value.status == 422
    assert refused.value.detail.endswith("perPage: perPage must be between 1 and 100")
    assert pacer.calls == 2 and pacer.retries == 0  # a 4xx is never sent again


def test_every_client_of_one_capsule_user_draws_on_the_extractors_hourly_budget(
    server: SandboxServer, tmp_path: Path
) -> None:
    settings = settings_for(server, tmp_path)
    shared = shared_pacer(settings.capsule_api_url, settings.capsule_api_token)
    with CapsuleClient.of(settings) as write_back, CapsuleClient.of(settings) as sensor:
        assert write_back.pacer is shared and sensor.pacer is shared
        before = shared.calls
        write_back.get("/parties", params={"perPage": 1})
        sensor.get("/parties/deleted", params={"since": "2020-01-01T00:00:00Z", "perPage": 1})
    assert shared.calls == before + 2
    assert shared.budget.remaining is not None  # Capsule's X-RateLimit-* headers were taken in

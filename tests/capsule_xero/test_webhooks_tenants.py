"""One webhook receiver for every client of a tenants file: each Xero event into the spool of the
client whose organisation it names, each client's Capsule hooks on its own URL and token."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from capsule_xero.settings import Settings
from capsule_xero.spool import Spool
from capsule_xero.tenants import TenantsError, read_tenants
from capsule_xero.webhooks import WebhookReceiver, xero_signature
from cli import app as cli
from cli import webhooks as cli_webhooks

XERO_KEY = "Zk3y/vE7qL0wXr9sT2uY8bN4mC6dF1gH5jK7pQ3aS0eW9zR2tU4iO6xB8nM1lV3c=="
ACME_HOOK = "aC7mEhO0kT9xQ2vL7mN4bC8zK1wR5pY3"
BOLT_HOOK = "b0LtHoOkT9xQ2vL7mN4bC8zK1wR5pY3s"
ACME_ORG = "4a1c6b2e-0f9d-4f3a-9b7e-2d5c8e1f0a6b"
BOLT_ORG = "9d2e1f3a-5b6c-4d7e-8f90-a1b2c3d4e5f6"
CAIRN_ORG = "1f0e2d3c-4b5a-4968-8776-655443322110"
STRANGER_ORG = "0b7e5a52-3c1d-4e8f-9a6b-5d4c3b2a1f00"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Three clients: acme and bolt with Capsule hook tokens of their own, cairn with none."""
    (tmp_path / "tenants.yaml").write_text(
        f"""tenants:
  - name: acme
    capsule_token_env: ACME_CAPSULE_TOKEN
    capsule_hook_token_env: ACME_HOOK_TOKEN
    xero_tenant_id: {ACME_ORG}
  - name: bolt
    capsule_token_env: BOLT_CAPSULE_TOKEN
    capsule_hook_token_env: BOLT_HOOK_TOKEN
    xero_tenant_id: {BOLT_ORG}
  - name: cairn
    capsule_token_env: CAIRN_CAPSULE_TOKEN
    xero_tenant_id: {CAIRN_ORG}
""",
        encoding="utf-8",
    )
    return {
        "CAPSULE_XERO_HOME": str(tmp_path),
        "XERO_WEBHOOK_KEY": XERO_KEY,
        "CAPSULE_HOOK_TOKEN": "tOpLeVeLhOoKtOkEnNoClIeNtHaS1234",  # belongs to no client: never served
        "ACME_HOOK_TOKEN": ACME_HOOK,
        "BOLT_HOOK_TOKEN": BOLT_HOOK,
    }


@pytest.fixture
def receiver(env: dict[str, str]) -> Iterator[WebhookReceiver]:
    hooks = cli_webhooks.tenant_hooks(env)
    with WebhookReceiver(None, xero_key=SecretStr(XERO_KEY), tenants=hooks) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client


def spool_of(env: dict[str, str], tenant: str) -> Spool:
    """The spool in the tenant's home, where its own Dagster sensor reads it."""
    return Spool.at_home(Settings.from_env({**env, "CAPSULE_XERO_TENANT": tenant}).home)


def spooled_files(env: dict[str, str]) -> list[Path]:
    return sorted(p for p in Path(env["CAPSULE_XERO_HOME"]).rglob("*.json") if "spool" in p.parts)


def xero_event(organisation: str) -> dict[str, str]:
    contact_id = str(uuid.uuid4())
    return {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Contacts/{contact_id}",
        "resourceId": contact_id,
        "eventDateUtc": "2026-11-25T01:15:39.902",
        "eventType": "UPDATE",
        "eventCategory": "CONTACT",
        "tenantId": organisation,
        "tenantType": "ORGANISATION",
    }


def post_xero(http: httpx.Client, receiver: WebhookReceiver, *events: dict[str, str]) -> httpx.Response:
    body = json.dumps(
        {"events": list(events), "firstEventSequence": 1, "lastEventSequence": len(events), "entropy": "ABC"}
    ).encode()
    headers = {"x-xero-signature": xero_signature(XERO_KEY, body), "Content-Type": "application/json"}
    return http.post(receiver.xero_url, content=body, headers=headers)


def resource_ids(spool: Spool) -> list[str]:
    return sorted(event["resourceId"] for path in spool.pending() for event in Spool.read(path).events)


def test_xero_events_for_two_organisations_land_each_in_its_tenants_spool(
    env: dict[str, str], receiver: WebhookReceiver, http: httpx.Client
) -> None:
    acme_event, bolt_event, acme_too = xero_event(ACME_ORG), xero_event(BOLT_ORG), xero_event(ACME_ORG)
    assert post_xero(http, receiver, acme_event, bolt_event, acme_too).status_code == 200
    assert post_xero(http, receiver, xero_event(BOLT_ORG.upper())).status_code == 200  # a GUID is a GUID
    acme, bolt = spool_of(env, "acme"), spool_of(env, "bolt")
    assert acme.root == Path(env["CAPSULE_XERO_HOME"]) / "tenants" / "acme" / "spool"
    assert resource_ids(acme) == sorted([acme_event["resourceId"], acme_too["resourceId"]])
    assert len(resource_ids(bolt)) == 2 and bolt_event["resourceId"] in resource_ids(bolt)
    assert spool_of(env, "cairn").pending() == []
    # Xero retries a delivery it got no 200 for: the retry lands on the same files, one per tenant.
    assert post_xero(http, receiver, acme_event, bolt_event, acme_too).status_code == 200
    assert len(spooled_files(env)) == 3


def test_an_event_for_an_organisation_no_tenant_lists_is_answered_200_logged_once_and_spooled_nowhere(
    env: dict[str, str], receiver: WebhookReceiver, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="capsule_xero.webhooks")
    response = post_xero(http, receiver, xero_event(STRANGER_ORG), xero_event(STRANGER_ORG))
    assert response.status_code == 200  # Xero switches off a webhook that keeps failing
    assert spooled_files(env) == []
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped == [
        f"webhook xero: 2 event(s) dropped: organisation(s) {STRANGER_ORG} in no tenant of the tenants file"
    ]
    # A mixed delivery: the known organisation's event is kept, the stranger's is not.
    known = xero_event(BOLT_ORG)
    assert post_xero(http, receiver, xero_event(STRANGER_ORG), known).status_code == 200
    assert resource_ids(spool_of(env, "bolt")) == [known["resourceId"]]
    assert len(spooled_files(env)) == 1


def test_intent_to_receive_is_answered_by_the_one_receiver_of_every_tenant(
    env: dict[str, str], receiver: WebhookReceiver, http: httpx.Client
) -> None:
    assert post_xero(http, receiver).status_code == 200
    body = b'{"events": []}'
    bad = http.post(receiver.xero_url, content=body, headers={"x-xero-signature": xero_signature("x", body)})
    assert bad.status_code == 401
    assert spooled_files(env) == []


@pytest.mark.parametrize(
    "path",
    [
        f"/capsule/bolt/{ACME_HOOK}",  # acme's hook posted on bolt's URL
        f"/capsule/acme/{BOLT_HOOK}",
        f"/capsule/nobody/{ACME_HOOK}",  # a tenant that does not exist
        f"/capsule/cairn/{ACME_HOOK}",  # a tenant without a hook token
        "/capsule/cairn/",
        f"/capsule/{ACME_HOOK}",  # the route of an install without tenants
        "/capsule/tOpLeVeLhOoKtOkEnNoClIeNtHaS1234",
        f"/capsule/ACME/{ACME_HOOK}",
    ],
)
def test_a_capsule_hook_on_another_tenants_url_or_an_unknown_one_is_404_and_spooled_nowhere(
    env: dict[str, str], receiver: WebhookReceiver, http: httpx.Client, path: str
) -> None:
    response = http.post(receiver.base_url + path, json={"event": "party/updated", "payload": [{"id": 1}]})
    assert response.status_code == 404
    assert spooled_files(env) == []


def test_a_capsule_hook_on_its_own_tenants_url_is_spooled_into_that_tenant_only(
    env: dict[str, str], receiver: WebhookReceiver, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    delivery = {"event": "party/updated", "payload": [{"id": 11, "name": "A"}, {"id": 12, "name": "B"}]}
    assert receiver.capsule_url("acme") == f"{receiver.base_url}/capsule/acme/{ACME_HOOK}"
    assert http.post(receiver.capsule_url("acme"), json=delivery).status_code == 200
    acme = spool_of(env, "acme")
    assert sorted(e["record"]["id"] for p in acme.pending() for e in Spool.read(p).events) == [11, 12]
    assert spooled_files(env) == acme.pending()
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    assert "for tenant acme" in logged and ACME_HOOK[:12] not in logged


def test_a_hook_token_variable_that_holds_a_token_is_refused_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "tenants.yaml").write_text(
        f"tenants:\n  - name: acme\n    capsule_token_env: ACME_CAPSULE_TOKEN\n"
        f"    capsule_hook_token_env: {ACME_HOOK}\n    xero_tenant_id: {ACME_ORG}\n",
        encoding="utf-8",
    )
    with pytest.raises(TenantsError) as refused:
        read_tenants({"CAPSULE_XERO_HOME": str(tmp_path)})
    [line] = refused.value.problems
    assert "tenant 'acme': capsule_hook_token_env looks like a token" in line and ACME_HOOK not in line


@pytest.fixture
def serve(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[list[WebhookReceiver]]:
    """``webhooks serve`` through the whole CLI, its receiver built but not left serving."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("CAPSULE_XERO_TENANTS", "CAPSULE_XERO_CONFIG", "WEBHOOK_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAPSULE_XERO_TENANT", "")  # --tenant sets it; the fixture's undo removes it
    monkeypatch.setenv("COLUMNS", "250")
    built: list[WebhookReceiver] = []

    def serve_forever(receiver: WebhookReceiver) -> None:
        built.append(receiver)

    monkeypatch.setattr(WebhookReceiver, "serve_forever", serve_forever)
    monkeypatch.setattr(WebhookReceiver, "__init__", _on_a_free_port(WebhookReceiver.__init__))
    yield built
    for receiver in built:
        receiver.stop()


def _on_a_free_port(init):  # type: ignore[no-untyped-def]
    def on_a_free_port(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        init(self, *args, **(kwargs | {"port": 0}))

    return on_a_free_port


def test_serve_with_a_tenants_file_needs_no_tenant_and_prints_each_tenants_capsule_url_never_its_token(
    serve: list[WebhookReceiver],
) -> None:
    result = CliRunner().invoke(cli.app, ["webhooks", "serve"])
    assert result.exit_code == 0, result.output
    [receiver] = serve
    assert sorted(receiver.tenants or {}) == ["acme", "bolt", "cairn"]
    assert f"{receiver.base_url}/capsule/acme/$ACME_HOOK_TOKEN" in result.output
    assert f"{receiver.base_url}/capsule/bolt/$BOLT_HOOK_TOKEN" in result.output
    assert "cairn: Xero organisation" in result.output and "no Capsule hooks" in result.output
    assert "$CAPSULE_HOOK_TOKEN" not in result.output
    assert ACME_HOOK not in result.output and BOLT_HOOK not in result.output

    result = CliRunner().invoke(cli.app, ["--tenant", "bolt", "webhooks", "serve"])
    assert result.exit_code == 0, result.output
    assert sorted(serve[1].tenants or {}) == ["bolt"]
    assert "/capsule/bolt/$BOLT_HOOK_TOKEN" in result.output and "/capsule/acme/" not in result.output


def test_one_tenants_unset_or_guessable_hook_token_turns_off_its_capsule_route_not_the_others(
    serve: list[WebhookReceiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOLT_HOOK_TOKEN")
    result = CliRunner().invoke(cli.app, ["webhooks", "serve"])
    assert result.exit_code == 0 and len(serve) == 1
    assert (
        "tenant 'bolt': BOLT_HOOK_TOKEN (its capsule_hook_token_env) is not set: its Capsule hooks are off"
        in (result.output)
    )
    served = {name: bool(tenant.capsule_token) for name, tenant in (serve[0].tenants or {}).items()}
    assert served == {"acme": True, "bolt": False, "cairn": False}  # cairn has no Capsule hooks

    serve.clear()
    monkeypatch.setenv("ACME_HOOK_TOKEN", "short")
    result = CliRunner().invoke(cli.app, ["webhooks", "serve"])
    assert "tenant 'acme': ACME_HOOK_TOKEN must be at least 24" in result.output
    assert "short" not in result.output
    # Xero's events still reach both clients; with no Capsule route left, the key alone serves.
    assert result.exit_code == 0 and not any(
        tenant.capsule_token for tenant in (serve[0].tenants or {}).values()
    )

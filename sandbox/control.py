"""Python helpers for the control API, for tests, benchmarks and people at a REPL."""

from __future__ import annotations

from typing import Any

import httpx


class SandboxControl:
    """Talks to ``/_sandbox`` on either port (the common routes are served on both)."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise RuntimeError(
                f"sandbox control {response.request.url.path}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    def health(self) -> dict[str, Any]:
        return self._json(self.http.get("/_sandbox/health"))

    def calls(self, api: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"since": since}
        if api:
            params["api"] = api
        return self._json(self.http.get("/_sandbox/calls", params=params))["calls"]

    def last_seq(self) -> int:
        return self._json(self.http.get("/_sandbox/calls", params={"since": 1 << 62}))["last_seq"]

    def clear_calls(self) -> None:
        self._json(self.http.delete("/_sandbox/calls"))

    def stats(self, api: str | None = None, since: int = 0) -> dict[str, Any]:
        params: dict[str, Any] = {"since": since}
        if api:
            params["api"] = api
        return self._json(self.http.get("/_sandbox/stats", params=params))

    def add_fault(
        self,
        api: str = "*",
        method: str = "*",
        path: str = "*",
        times: int | None = None,
        hang_seconds: float = 30.0,
        **probabilities: float,
    ) -> dict[str, Any]:
        """``add_fault("xero", "POST", "/api.xro/2.0/Contacts", times=2, **{"503": 1.0})``."""
        spec = {
            "api": api,
            "method": method,
            "path": path,
            "times": times,
            "hang_seconds": hang_seconds,
            "probabilities": probabilities,
        }
        return self._json(self.http.post("/_sandbox/faults", json=spec))

    def clear_faults(self) -> None:
        self._json(self.http.delete("/_sandbox/faults"))

    def set_clock(self, speed: float | None = None, advance_seconds: float | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        if speed is not None:
            spec["speed"] = speed
        if advance_seconds is not None:
            spec["advance_seconds"] = advance_seconds
        return self._json(self.http.post("/_sandbox/clock", json=spec))

    def seed(self, parties: int, seed: int = 0) -> dict[str, Any]:
        return self._json(self.http.post("/_sandbox/seed", json={"parties": parties, "seed": seed}))

    def close(self) -> None:
        self.http.close()

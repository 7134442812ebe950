"""Every call the stand-ins served, for tests and benchmarks to count and inspect.

Credentials are never recorded: only method, path, query, status and what the API layer
chooses to note (tenant, batch size, injected fault, rate-limit problem).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CallRecord:
    seq: int
    api: str  # "xero", "xero-identity", "capsule"
    method: str
    path: str
    query: str
    status: int = 0
    tenant: str | None = None
    batch_size: int | None = None
    fault: str | None = None
    rate_limit_problem: str | None = None
    idempotency_key: str | None = None
    started: float = 0.0  # real epoch seconds
    duration: float = 0.0
    concurrent: int = 0  # calls in flight for the same api+tenant when this one started, itself included
    notes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []
        self._seq = 0
        self._in_flight: Counter[tuple[str, str | None]] = Counter()
        self._peak: dict[tuple[str, str | None], int] = defaultdict(int)

    def begin(self, api: str, method: str, path: str, query: str, started: float) -> CallRecord:
        with self._lock:
            self._seq += 1
            record = CallRecord(self._seq, api, method, path, query, started=started)
            self._records.append(record)
            return record

    def enter(self, record: CallRecord, tenant: str | None) -> int:
        """Count ``record`` as in flight for its api+tenant; return how many are in flight now."""
        with self._lock:
            key = (record.api, tenant)
            self._in_flight[key] += 1
            now = self._in_flight[key]
            self._peak[key] = max(self._peak[key], now)
            record.concurrent = now
            return now

    def leave(self, record: CallRecord, tenant: str | None) -> None:
        with self._lock:
            key = (record.api, tenant)
            self._in_flight[key] -= 1

    def in_flight(self, api: str, tenant: str | None) -> int:
        with self._lock:
            return self._in_flight[(api, tenant)]

    def records(self, api: str | None = None, since: int = 0) -> list[CallRecord]:
        with self._lock:
            return [r for r in self._records if r.seq > since and (api is None or r.api == api)]

    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._peak.clear()

    def stats(self, api: str | None = None, since: int = 0) -> dict[str, Any]:
        records = self.records(api, since)
        by_status = Counter(r.status for r in records)
        by_fault = Counter(r.fault for r in records if r.fault)
        with self._lock:
            peaks = {f"{a}:{t}" if t else a: n for (a, t), n in self._peak.items() if api is None or a == api}
        writes = [r for r in records if r.method in {"POST", "PUT", "DELETE", "PATCH"}]
        return {
            "calls": len(records),
            "reads": len(records) - len(writes),
            "writes": len(writes),
            "by_status": {str(k): v for k, v in sorted(by_status.items())},
            "served_429": by_status.get(429, 0),
            "faults": dict(by_fault),
            "max_batch_size": max((r.batch_size or 0 for r in records), default=0),
            "peak_concurrency": peaks,
        }

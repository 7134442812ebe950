"""Webhook receiver figures: how long one big delivery takes to be answered, and what hostile bodies get.

    .venv/bin/python bench/webhooks.py                      # a 20,000-record Capsule delivery, 3 times
    .venv/bin/python bench/webhooks.py --records 5000 --repeat 5
    .venv/bin/python bench/webhooks.py --small              # records of three fields (about 80 bytes)

The receiver (capsule_xero/webhooks.py) runs in this process on 127.0.0.1 with a spool in a temporary
folder on the same disk as the system's temporary files; each delivery is new (other records), so
every one is written and fsynced. Printed, per delivery: the status, the time to the answer (Xero
wants one within 5 s, and Capsule's timeout is undocumented: the same 5 s is the target), the files
and bytes the spool gained. Then a signed Xero delivery of 500 events, and what a body nested
100,000 deep (correctly signed) and one over the size limit are answered. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import httpx  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from capsule_xero.spool import Spool  # noqa: E402
from capsule_xero.webhooks import CAPSULE_MAX_BODY_BYTES, WebhookReceiver, xero_signature  # noqa: E402

XERO_KEY = "bench-key/3q9Xv0Lw8Rk2Jm5Tn7Bc1Hd4Fg6Ys=="
CAPSULE_TOKEN = "bench-token-hT9xQ2vL7mN4bC8zK1wR5pY3sD6fG0jA"


def party(record_id: int) -> dict:
    """A Capsule party as a REST hook carries it (full record, embed fields and tags): about 1 kB."""
    return {
        "id": record_id,
        "type": "organisation",
        "name": f"Bench Company {record_id} Pty Ltd",
        "about": "Generated for bench/webhooks.py",
        "createdAt": "2026-11-25T01:15:39Z",
        "updatedAt": "2026-11-25T01:16:02Z",
        "lastContactedAt": None,
        "pictureURL": "https://capsulecrm.com/theme/default/images/org_avatar_70.png",
        "owner": {"id": 11, "username": "admin", "name": "Sandbox Admin"},
        "team": None,
        "emailAddresses": [
            {"id": record_id * 10 + 1, "type": "Work", "address": f"info{record_id}@example.com.au"}
        ],
        "phoneNumbers": [{"id": record_id * 10 + 2, "type": "Work", "number": "+61 2 9000 0000"}],
        "addresses": [
            {
                "id": record_id * 10 + 3,
                "type": "Office",
                "street": "1 George Street",
                "city": "Sydney",
                "state": "NSW",
                "country": "Australia",
                "zip": "2000",
            }
        ],
        "websites": [{"id": record_id * 10 + 4, "service": "URL", "address": "https://example.com.au"}],
        "tags": [{"id": 5, "name": "Customer"}],
        "fields": [
            {"id": record_id * 10 + 5, "definition": {"id": 7, "name": "ABN"}, "value": "51824753556"}
        ],
    }


def spool_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*.json") if p.is_file()] if root.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


def post(
    http: httpx.Client, url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        status = str(http.post(url, content=body, headers=headers or {}).status_code)
    except httpx.HTTPError as error:
        status = f"no answer ({type(error).__name__})"
    return status, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20_000, help="records in each Capsule delivery")
    parser.add_argument("--repeat", type=int, default=3, help="Capsule deliveries to time")
    parser.add_argument(
        "--small", action="store_true", help="records of id, name and updatedAt only (about 80 bytes each)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as folder:
        spool = Spool(Path(folder) / "spool")
        receiver = WebhookReceiver(
            spool, xero_key=SecretStr(XERO_KEY), capsule_token=SecretStr(CAPSULE_TOKEN)
        )
        with receiver, httpx.Client(timeout=120, trust_env=False) as http:
            capsule_url = receiver.capsule_url()
            print(f"Capsule delivery of {args.records:,} records, {args.repeat} times:")
            for attempt in range(args.repeat):
                first = attempt * args.records
                records = [
                    {"id": first + n, "name": f"Bench {first + n}", "updatedAt": "2026-11-25T01:16:02Z"}
                    if args.small
                    else party(first + n)
                    for n in range(args.records)
                ]
                body = json.dumps({"event": "party/updated", "payload": records}).encode()
                before = spool_size(spool.root)
                status, seconds = post(http, capsule_url, body, {"Content-Type": "application/json"})
                after = spool_size(spool.root)
                print(
                    f"  {len(body) / 1e6:5.1f} MB body → {status} in {seconds:6.2f} s;"
                    f" spool +{after[0] - before[0]:,} files, +{(after[1] - before[1]) / 1e6:.1f} MB"
                )

            events = [
                {
                    "resourceUrl": f"https://api.xero.com/api.xro/2.0/Contacts/00000000-0000-0000-0000-{n:012d}",
                    "resourceId": f"00000000-0000-0000-0000-{n:012d}",
                    "eventDateUtc": "2026-11-25T01:15:39.902",
                    "eventType": "UPDATE",
                    "eventCategory": "CONTACT",
                    "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",
                    "tenantType": "ORGANISATION",
                }
                for n in range(500)
            ]
            xero = json.dumps(
                {"events": events, "firstEventSequence": 1, "lastEventSequence": 500, "entropy": "B"}
            )
            signed = {"x-xero-signature": xero_signature(XERO_KEY, xero.encode())}
            status, seconds = post(http, receiver.xero_url, xero.encode(), signed)
            print(f"Xero delivery of 500 events → {status} in {seconds:.2f} s")

            deep = ('{"events": [' + "[" * 100_000 + "]" * 100_000 + "]}").encode()
            status, seconds = post(
                http, receiver.xero_url, deep, {"x-xero-signature": xero_signature(XERO_KEY, deep)}
            )
            print(f"Xero body nested 100,000 deep, correctly signed → {status} in {seconds:.2f} s")
            deep_capsule = (
                '{"event": "party/updated", "payload": [' + "[" * 100_000 + "]" * 100_000 + "]}"
            ).encode()
            status, seconds = post(http, capsule_url, deep_capsule)
            print(f"Capsule body nested 100,000 deep, right token → {status} in {seconds:.2f} s")
            huge = b'{"event": "party/updated", "payload": [' + b" " * (CAPSULE_MAX_BODY_BYTES + 1) + b"]}"
            status, seconds = post(http, capsule_url, huge)
            print(
                f"Capsule body of {len(huge) / 1e6:.0f} MB (limit {CAPSULE_MAX_BODY_BYTES / 1e6:.0f} MB) → {status} in {seconds:.2f} s"
            )


if __name__ == "__main__":
    main()

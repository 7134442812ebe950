"""Plan figures: time to build the diff, settlements, preflight and operations on synthetic inputs.

    .venv/bin/python bench/plan.py                    # 1,000,000 desired contacts
    .venv/bin/python bench/plan.py --contacts 100000 --threads 2
    .venv/bin/python bench/plan.py --database /tmp/plan.duckdb   # in a file, as the pipeline runs

The inputs (reconcile.desired_contacts, reconcile.current_contacts, ledger.written_contacts,
reconcile.contact_matches, staging.capsule_parties) are generated in SQL with fixed shares per
party id: 60 % in sync, 8 % changed in Capsule, 5 % changed in Xero, 2 % changed on both sides,
5 % adopted hand-made contacts (no ledger row, no ContactNumber), 15 % new (1 in 15 of them with a
name an active contact has), 1 % review, 2 % archived in Xero (half archived by this tool), 2 %
over-long values; plus a deleted party per 25 (half of them with a Xero contact, half of those still
active) and a Xero-only contact per 10.
Nothing here is random: the same --contacts gives the same tables.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import duckdb

from reverse_etl.ledger.schema import ensure_ledger
from transform.sql import build, model_params, register_functions
from transform.stages import PLAN_MODELS

RULES = {
    "contact_number_prefix": "CAP-",
    "xero_owned_fields": [],
    "conflict_policy": "newest_wins",
    "name_collision": "suffix",
    "restore_archived_by_xero": False,
}

INPUTS = """
create schema staging;
create schema reconcile;

create table parties as
select
    i as party_id,
    case
        when i % 100 < 60 then 'in_sync'
        when i % 100 < 68 then 'capsule_changed'
        when i % 100 < 73 then 'xero_changed'
        when i % 100 < 75 then 'both_changed'
        when i % 100 < 80 then 'adopted'
        when i % 100 < 95 then 'new'
        when i % 100 < 96 then 'review'
        when i % 100 < 98 then 'archived'
        else 'too_long'
    end as kind,
    'c' || lpad(cast(i as varchar), 35, '0') as contact_id
from range(1, $contacts + 1) as r(i);

create table base as
select
    party_id,
    kind,
    contact_id,
    'CAP-' || party_id as contact_number,
    case when kind = 'new' and party_id % 100 = 90 then 'Shared Name ' || party_id // 100
         else 'Harbour Joinery ' || party_id || ' Pty Ltd' end as name,
    null::varchar as first_name,
    null::varchar as last_name,
    'accounts' || party_id || '@harbourjoinery.com.au' as email_address,
    lpad(cast(party_id as varchar), 11, '5') as tax_number,
    'https://harbourjoinery' || party_id || '.com.au' as website,
    '+6129' || lpad(cast(party_id % 10000000 as varchar), 7, '0') as phone_default,
    '+614' || lpad(cast(party_id % 100000000 as varchar), 8, '0') as phone_mobile,
    null::varchar as phone_fax,
    '{"lines":["' || party_id || ' Dock Rd"],"city":"Balmain","region":"NSW","postal_code":"2041","country":"Australia"}'
        as street_address,
    null::varchar as postal_address,
    '[{"first_name":"Mia","last_name":"Nguyen","email_address":"mia' || party_id || '@harbourjoinery.com.au"}]'
        as contact_persons,
    '["Customer","Owner: Mia Nguyen"]' as contact_groups
from parties;

create table reconcile.desired_contacts as
select
    party_id,
    case when kind not in ('new', 'review') then contact_id end as contact_id,
    case kind when 'new' then 'new' when 'review' then 'review' else 'matched' end as match_outcome,
    timestamptz '2026-06-20 09:00:05+00'
        + case when kind in ('capsule_changed', 'adopted') or (kind = 'both_changed' and party_id % 2 = 0)
               then interval 2 day else interval 0 day end as capsule_updated_at,
    case when party_id % 97 = 0 then 8 else 1 end as people_total,
    contact_number, name, first_name, last_name,
    case when kind in ('capsule_changed', 'both_changed') then 'new' || party_id || '@harbourjoinery.com.au'
         when kind = 'too_long' then repeat('a', 250) || '@x.com.au'
         else email_address end as email_address,
    tax_number, website, phone_default, phone_mobile, phone_fax, street_address, postal_address,
    contact_persons, contact_groups,
    []::varchar[] as quarantined_fields,
    []::struct(first_name varchar, last_name varchar)[] as quarantined_people
from base;

create table reconcile.current_contacts as
select
    contact_id,
    case when kind = 'archived' then 'ARCHIVED' else 'ACTIVE' end as contact_status,
    timestamptz '2026-06-20 09:00:00+00'
        + case when kind = 'xero_changed' or (kind = 'both_changed' and party_id % 2 = 1)
               then interval 3 day else interval 0 day end as xero_updated_at,
    cast(0 as decimal(18, 2)) as balance_outstanding,
    case when kind = 'adopted' then null else contact_number end as contact_number,
    name, first_name, last_name,
    case when kind = 'both_changed' then 'bookkeeper' || party_id || '@harbourjoinery.com.au'
         else email_address end as email_address,
    tax_number,
    case when kind = 'adopted' then 'https://www.harbourjoinery' || party_id || '.com.au' else website end
        as website,
    case when kind = 'xero_changed' then '+61298765432' else phone_default end as phone_default,
    phone_mobile, phone_fax, street_address, postal_address, contact_persons, contact_groups
from base
where kind not in ('new', 'review')
union all
-- Hand-made contacts only in Xero; one in ten holds the name a new party wants.
select
    'x' || lpad(cast(i as varchar), 35, '0'), 'ACTIVE', timestamptz '2026-01-01 00:00:00+00', 0,
    null, 'Shared Name ' || i, null, null, null, null, null, null, null, null, null, null, null, null
from range(1, $contacts // 10 + 1) as r(i)
union all
-- Contacts of parties deleted in Capsule, found by their ContactNumber; half already archived.
select
    't' || lpad(cast(i as varchar), 35, '0'), case when i % 2 = 0 then 'ACTIVE' else 'ARCHIVED' end,
    timestamptz '2026-06-20 09:00:00+00', case when i % 20 = 0 then 150 else 0 end,
    'CAP-' || ($contacts + i), 'Gone ' || i, null, null, null, null, null, null, null, null, null, null, null, null
from range(1, $contacts // 50 + 1) as r(i);

create table reconcile.contact_matches as
select party_id, match_outcome as outcome,
       case when match_outcome = 'review' then '2 Xero contacts fit the abn rule' end as review_reason,
       contact_id
from reconcile.desired_contacts;

create table staging.capsule_parties as
select party_id, false as is_deleted, null::timestamptz as deleted_at, contact_id as xero_contact_id
from reconcile.desired_contacts
union all
select $contacts + i, true, timestamptz '2026-06-25 00:00:00+00', null
from range(1, $contacts // 25 + 1) as r(i);
"""

LEDGER = """
insert into ledger.written_contacts
select
    b.contact_id, b.party_id, 1, timestamptz '2026-06-20 09:00:00+00',
    case when b.kind = 'archived' and b.party_id % 2 = 0 then 'ARCHIVED' else 'ACTIVE' end,
    b.contact_number, b.name, b.first_name, b.last_name, b.email_address, b.tax_number, b.website,
    b.phone_default, b.phone_mobile, b.phone_fax, b.street_address, b.postal_address, b.contact_persons,
    b.contact_groups
from base as b
where b.kind not in ('new', 'review', 'adopted');
"""


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--contacts", type=int, default=1_000_000, help="desired contacts (default 1,000,000)"
    )
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: DuckDB's choice)")
    parser.add_argument(
        "--database",
        default=":memory:",
        help="a DuckDB file to build in (default: in memory); it is replaced",
    )
    args = parser.parse_args()

    if args.database != ":memory:":
        Path(args.database).unlink(missing_ok=True)
        Path(args.database + ".wal").unlink(missing_ok=True)
    con = duckdb.connect(args.database)
    if args.threads:
        con.execute("set threads = $threads", {"threads": args.threads})
    register_functions(con)
    started = time.perf_counter()
    for statement in INPUTS.split(";\n\n"):
        con.execute(statement, model_params(statement, {"contacts": args.contacts}))
    ensure_ledger(con)
    con.execute(LEDGER)
    print(f"inputs generated in {time.perf_counter() - started:.1f} s")
    for table in ("reconcile.desired_contacts", "reconcile.current_contacts", "ledger.written_contacts"):
        print(f"  {table:34} {con.table(table).aggregate('count(*)').fetchall()[0][0]:>12,}")

    total = 0.0
    cpu_before = _cpu_seconds()
    print("plan (build time, rows):")
    for table in PLAN_MODELS:
        started = time.perf_counter()
        rows = build(con, "reconcile", table, RULES)
        took = time.perf_counter() - started
        total += took
        print(f"  reconcile.{table:24} {took:6.2f} s {rows:>12,}")
    print(f"  {'total':34} {total:6.2f} s  ({_cpu_seconds() - cpu_before:.1f} CPU-seconds)")
    print("operations:")
    for operation, count in con.sql(
        "select operation, count(*) from reconcile.contact_operations group by all order by all"
    ).fetchall():
        print(f"  {operation:10} {count:>12,}")


if __name__ == "__main__":
    main()

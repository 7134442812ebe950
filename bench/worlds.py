"""Large raw worlds for the reconcile benchmark, built without HTTP from one extracted base world.

A base world (``--base-parties`` generated parties, 10k by default) is generated, served by the sandbox
and extracted once through the real Capsule and Xero extractors into DuckDB, exactly like a user's
first run (so every raw column, ``_dlt_id``/``_dlt_parent_id``/``_dlt_root_id``/``_dlt_list_idx`` link
and dlt type is the real one). It is cached under the work directory.

An N-party world is then R = round(N / base) replicas of the base, made in DuckDB SQL:

* **Ids.** Replica r shifts every Capsule id (parties, tombstones, e-mail/phone/... rows) by
  ``r × 10,000,000`` (the base spans ids ~254,000,000 + 3 per party, so replicas never overlap), and
  gives every ``_dlt_id`` (and the children's ``_dlt_parent_id``/``_dlt_root_id``) a new 14-character
  id, md5 of the old one and r. Xero ``ContactID``s become md5-derived GUIDs of the old id and r, and
  the Capsule "Xero Contact ID" field and ``ContactNumber`` ("CAP-" + shifted id) follow, so the
  earlier sync's cross-references still hold inside a replica. Replica 0 is the base, untouched.
* **Natural keys.** So that replicas are different businesses, not R copies that all collide as
  duplicates, replica r ≥ 1 changes every key a match rule reads, the same way on both sides:
  names get the word ``r<r>`` after their first word (after a leading "The"), so name variants
  (case, "&", legal suffix, accents) still fold equal to their Xero look-alike; people get it in
  their first name (last name when there is none) and Xero in ``Name``/``FirstName``; company
  e-mail domains and websites become ``<label>-r<r>.<rest>``; free-mail addresses keep their
  domain (gmail.com is everyone's) and get ``.r<r>`` on the local part; ABNs get new digits from a
  hash of (digits, r) in the typed format, recomputed to pass the ABR checksum when the base one
  passed (and to fail it the same way when it did not); phones get their last four digits shifted by
  ``r × 7919 mod 10,000`` (same shape, same validity, and distinct values grow with N, so caching
  the normalisers is not flattered by repeats).
* **Cross-replica collisions kept on purpose.** (1) Free-mail domains are shared by all replicas
  (the free-mail exclusion of the domain rule is exercised at full scale). (2) Person names are
  drawn by the generator from a limited vocabulary, so same-name people already occur inside each
  replica, as in any large CRM. (3) 0.5 % of Capsule parties in each replica r ≥ 1 (chosen by a hash
  of the party id and r) are a re-entry of the same business in replica r - 1: they keep replica
  r - 1's name, e-mails, website, phones and ABN (their ids and cross-references stay their own).
  These are the duplicates a 1M-party account really has; they exercise the ABN-duplicate review
  and the "claimed by two parties" paths instead of leaving every replica disjoint.
* **Xero size.** The base's Xero organisation has ~1/3 as many contacts as Capsule has parties, so
  to get ~N contacts the Xero side has Rx = round(N_xero / base contacts) replicas (N_xero = N by
  default). Xero replica r < R pairs with Capsule replica r; replicas r ≥ R are contacts of
  businesses never in Capsule: their "CAP-" numbers are dropped (a bookkeeper's own contacts) and
  their tags match no Capsule replica, so they are only-in-Xero.
* Opportunities, cases and tasks (and their tombstones) are replicated with their ids and party,
  opportunity and case references shifted like the parties', so each replica's parties have their
  own History activity.
* Addresses, tags, custom fields other than ABN/"Xero Contact ID", timestamps, owners (Capsule and
  Xero users), groups and field definitions are shared by all replicas (one account, one org).

With the default 10k base (seed 1: 10,000 parties, 3,320 Xero contacts), ``--parties 100000`` is
10 Capsule and 30 Xero replicas: 100,000 parties (+2,700 tombstones) × 99,600 contacts; 1,000,000
is 100 and 301: 1,000,000 parties (+27,000 tombstones) × 999,320 contacts.

Worlds are cached as ``world-<parties>x<xero>-base<base>-seed<seed>-v<version>.duckdb``; callers copy
one before writing to it.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import duckdb  # noqa: E402

from transform.domains import FREE_MAIL_DOMAINS  # noqa: E402
from transform.normalise import ABN_WEIGHTS  # noqa: E402

WORLD_VERSION = 2
ID_STRIDE = 10_000_000
DUPLICATE_ONE_IN = 200  # 0.5 % of parties per replica re-enter a business of the previous replica
PHONE_SHIFT = 7919

# Opportunities, cases and tasks (read for the Xero History notes) and their tombstones: replicated
# with every Capsule id shifted like the parties' (names and dates kept), so each replica's parties
# have their own. Their nested fields and tags follow their parents' new _dlt_ids.
ACTIVITY_TABLES = (
    "capsule_opportunities",
    "capsule_opportunities__fields",
    "capsule_opportunities__tags",
    "capsule_kases",
    "capsule_kases__fields",
    "capsule_kases__tags",
    "capsule_tasks",
    "capsule_deleted_opportunities",
    "capsule_deleted_kases",
)
SHIFTED_IDS = ("id", "party__id", "opportunity__id", "kase__id", "next_task__id")
DLT_IDS = ("_dlt_id", "_dlt_parent_id", "_dlt_root_id")

# Account-level tables, the same in every replica.
SHARED_TABLES = (
    "capsule_users",
    "capsule_tags",
    "capsule_party_field_definitions",
    "xero_contact_groups",
    "xero_users",
)


# ------------------------------------------------------------------------------------ the base world


def base_world(work_dir: Path, parties: int, seed: int) -> Path:
    """The extracted base world (raw schema only), generated and extracted once, then cached."""
    path = work_dir / f"base-{parties}-seed{seed}.duckdb"
    if path.exists():
        return path
    import httpx

    from capsule_xero.settings import Settings
    from capsule_xero.xero.auth import XeroAuth, login
    from pipelines.capsule import extract_capsule
    from pipelines.xero import run_xero_extract
    from sandbox.app import Sandbox
    from sandbox.capsule.control import CapsuleControl
    from sandbox.generator import generate
    from sandbox.server import SandboxServer

    started = time.perf_counter()
    home = work_dir / f"base-home-{parties}-{seed}"
    shutil.rmtree(home, ignore_errors=True)
    sandbox = Sandbox(seed=seed)
    sandbox.load(generate(parties=parties, seed=seed))
    with SandboxServer(sandbox) as server:
        CapsuleControl(server.capsule_url).set_rate_limit(limit=100_000)  # setup, not a rate-limit test
        settings = Settings.from_env(server.env() | {"CAPSULE_XERO_HOME": str(home)})
        login(
            XeroAuth(settings),
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True, timeout=30),
        )
        extract_capsule(settings)
        run_xero_extract(settings)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with duckdb.connect(str(partial)) as out:
        out.execute("attach ? as src (read_only)", [str(settings.duckdb_path)])
        out.execute("create schema raw")
        tables = out.execute(
            "select table_name from duckdb_tables() where database_name = 'src' and schema_name = 'raw'"
        ).fetchall()
        for (table,) in tables:
            out.execute(f"create table raw.{table} as from src.raw.{table}")
        out.execute("detach src")
    partial.rename(path)
    shutil.rmtree(home, ignore_errors=True)
    print(f"base world: {parties:,} parties extracted in {time.perf_counter() - started:.0f} s → {path}")
    return path


# ------------------------------------------------------------------------------ replica transforms


def replica_abn(text: str | None, replica: int) -> str | None:
    """The typed ABN with new digits for ``replica``, same format and same checksum outcome."""
    if text is None or replica == 0:
        return text
    digits = "".join(c for c in text if c in "0123456789")
    if not digits:
        return text
    seed = int.from_bytes(hashlib.blake2b(f"{digits}:{replica}".encode(), digest_size=8).digest())
    if len(digits) == 11:
        body = f"{seed % 10**9:09d}"
        weighted = sum(int(d) * w for d, w in zip(body, ABN_WEIGHTS[2:], strict=True))
        check = -weighted % 89  # 10·(d1 - 1) + d2 ≡ -Σ (mod 89), with d1 in 1..9, d2 in 0..9
        new = f"{check // 10 + 1}{check % 10}{body}"
        if _abn_passes(digits) is False:
            new = "0" + new[1:] if digits[0] == "0" else new[:-1] + str((int(new[-1]) + 1) % 10)
    else:
        new = digits[0] + f"{seed:020d}"[-(len(digits) - 1) :] if len(digits) > 1 else digits
        new = new[: len(digits)]
    return _put_digits(text, new)


def _abn_passes(digits: str) -> bool:
    if digits[0] == "0":
        return False
    return (sum(int(d) * w for d, w in zip(digits, ABN_WEIGHTS, strict=True)) - ABN_WEIGHTS[0]) % 89 == 0


def replica_phone(text: str | None, replica: int) -> str | None:
    """The typed number with its last four ASCII digits shifted by ``replica``; format kept."""
    if text is None or replica == 0:
        return text
    positions = [i for i, c in enumerate(text) if c in "0123456789"]
    if len(positions) < 4:
        return text
    last = positions[-4:]
    shifted = f"{(int(''.join(text[i] for i in last)) + replica * PHONE_SHIFT) % 10_000:04d}"
    chars = list(text)
    for i, digit in zip(last, shifted, strict=True):
        chars[i] = digit
    return "".join(chars)


def _put_digits(text: str, digits: str) -> str:
    out, it = [], iter(digits)
    for c in text:
        out.append(next(it, c) if c in "0123456789" else c)
    return "".join(out)


_MACROS = """
create or replace temp macro new_dlt_id(x, r) as
    case when r = 0 or x is null then x else substr(md5(x || ':' || r), 1, 14) end;
create or replace temp macro new_guid(x, r) as
    case when r = 0 or nullif(trim(x), '') is null then x else cast(cast(md5(lower(trim(x)) || ':' || r) as uuid) as varchar) end;
create or replace temp macro effective_replica(base_id, r) as
    case when r >= 1 and hash(base_id, r) % $dup_one_in = 0 then r - 1 else r end;
create or replace temp macro replica_tag(r) as case when r = 0 then null else 'r' || r end;
create or replace temp macro replica_name(name, r) as
    case when r = 0 or name is null then name
    else regexp_replace(name, '^(\\s*(?:the\\s+)?\\S+)', '\\1 ' || replica_tag(r), 'i') end;
create or replace temp macro replica_email(address, r) as
    case
        when r = 0 or address is null then address
        when position('@' in address) = 0 then address || '.r' || r
        when lower(trim(split_part(address, '@', 2))) in (select domain from free_mail)
            then split_part(address, '@', 1) || '.r' || r || substr(address, length(split_part(address, '@', 1)) + 1)
        else split_part(address, '@', 1) || '@' || regexp_replace(
            substr(address, length(split_part(address, '@', 1)) + 2), '^((?:www\\.)?[^.]+)', '\\1-r' || r, 'i')
    end;
create or replace temp macro replica_website(url, r) as
    case
        when r = 0 or url is null then url
        when lower(regexp_extract(url, '^\\s*(?:[a-z][a-z0-9+.-]*://)?(?:www\\.)?([^/:?#\\s]+)', 1, 'i'))
            in (select domain from free_mail) then url
        else regexp_replace(url, '^(\\s*(?:[a-z][a-z0-9+.-]*://)?(?:www\\.)?[^./:?#@\\s]+)', '\\1-r' || r, 'i')
    end;
"""


def _connect_for_building(path: Path, base: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("set memory_limit = '6GB'")
    con.execute("attach ? as base (read_only)", [str(base)])
    # A macro cannot hold bound parameters: the free-mail list is a table, the duplicate rate a constant.
    con.execute(
        "create temp table free_mail as select unnest(?::varchar[]) as domain", [sorted(FREE_MAIL_DOMAINS)]
    )
    con.execute(_MACROS.replace("$dup_one_in", str(DUPLICATE_ONE_IN)))
    from duckdb import sqltypes

    for name, function in (("replica_abn", replica_abn), ("replica_phone", replica_phone)):
        con.create_function(
            name,
            function,
            [sqltypes.VARCHAR, sqltypes.BIGINT],
            sqltypes.VARCHAR,
            null_handling="special",
            side_effects=False,
        )
    return con


# One statement per raw table: (replica set, select). ``m.r`` is the replica, ``er`` the effective one
# (a re-entered party's natural keys come from replica r - 1). $stride is the id shift.
_PARTY_CHILD = """
    select c.* replace (
        {replace}
        c.id + m.r * {stride} as id,
        new_dlt_id(c._dlt_root_id, m.r) as _dlt_root_id,
        new_dlt_id(c._dlt_parent_id, m.r) as _dlt_parent_id,
        new_dlt_id(c._dlt_id, m.r) as _dlt_id
    )
    from base.raw.{table} as c
    inner join base.raw.capsule_parties as p on p._dlt_id = c._dlt_parent_id
    cross join capsule_replicas as m
"""
_CONTACT_CHILD = """
    select c.* replace (
        {replace}
        new_dlt_id(c._dlt_root_id, m.r) as _dlt_root_id,
        new_dlt_id(c._dlt_parent_id, m.r) as _dlt_parent_id,
        new_dlt_id(c._dlt_id, m.r) as _dlt_id
    )
    from base.raw.{table} as c
    cross join xero_replicas as m
"""

REPLICATED: dict[str, str] = {
    "capsule_parties": """
        select p.* replace (
            p.id + m.r * {stride} as id,
            case when p.type = 'organisation' then replica_name(p.name, {er}) else p.name end as name,
            case when nullif(trim(p.first_name), '') is not null then replica_name(p.first_name, {er})
                else p.first_name end as first_name,
            case when nullif(trim(p.first_name), '') is null then replica_name(p.last_name, {er})
                else p.last_name end as last_name,
            p.organisation__id + m.r * {stride} as organisation__id,
            replica_name(p.organisation__name, effective_replica(p.organisation__id, m.r))
                as organisation__name,
            new_dlt_id(p._dlt_id, m.r) as _dlt_id
        )
        from base.raw.capsule_parties as p
        cross join capsule_replicas as m
    """,
    "capsule_parties__email_addresses": _PARTY_CHILD.replace(
        "{replace}", "replica_email(c.address, {er}) as address,"
    ),
    "capsule_parties__phone_numbers": _PARTY_CHILD.replace(
        "{replace}", "replica_phone(c.number, {er}) as number,"
    ),
    "capsule_parties__websites": _PARTY_CHILD.replace(
        "{replace}",
        "replica_website(c.address, {er}) as address, replica_website(c.url, {er}) as url,",
    ),
    "capsule_parties__fields": _PARTY_CHILD.replace(
        "{replace}",
        """case lower(c.definition__name)
            when 'abn' then replica_abn(c.value, {er})
            when 'xero contact id' then new_guid(c.value, m.r)
            else c.value end as value,""",
    ),
    "capsule_parties__tags": _PARTY_CHILD.replace("{replace}", ""),
    "capsule_parties__addresses": _PARTY_CHILD.replace("{replace}", ""),
    "capsule_deleted_parties": """
        select d.* replace (d.id + m.r * {stride} as id, new_dlt_id(d._dlt_id, m.r) as _dlt_id)
        from base.raw.capsule_deleted_parties as d
        cross join capsule_replicas as m
    """,
    "xero_contacts": """
        select c.* replace (
            case
                when upper(c.contact_number) like 'CAP-%' then
                    case when m.r < {capsule_replicas} then
                        left(c.contact_number, 4) || (try_cast(substr(c.contact_number, 5) as bigint) + m.r * {stride})
                    end
                when m.r = 0 then c.contact_number
                else c.contact_number || '-' || m.r
            end as contact_number,
            replica_name(c.name, m.r) as name,
            replica_name(c.first_name, m.r) as first_name,
            replica_email(c.email_address, m.r) as email_address,
            replica_abn(c.tax_number, m.r) as tax_number,
            replica_website(c.website, m.r) as website,
            new_guid(c.merged_to_contact_id, m.r) as merged_to_contact_id,
            new_guid(c.contact_id, m.r) as contact_id,
            new_dlt_id(c._dlt_id, m.r) as _dlt_id
        )
        from base.raw.xero_contacts as c
        cross join xero_replicas as m
    """,
    "xero_contacts__phones": _CONTACT_CHILD.replace(
        "{replace}", "replica_phone(c.phone_number, m.r) as phone_number,"
    ),
    "xero_contacts__addresses": _CONTACT_CHILD.replace("{replace}", ""),
    "xero_contacts__contact_groups": _CONTACT_CHILD.replace("{replace}", ""),
    "xero_contacts__contact_persons": _CONTACT_CHILD.replace(
        "{replace}",
        "replica_name(c.first_name, m.r) as first_name, replica_email(c.email_address, m.r) as email_address,",
    ),
}


def _replicate_activity(con: duckdb.DuckDBPyConnection, table: str) -> None:
    columns = [
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where database_name = 'base' and schema_name = 'raw'"
            " and table_name = ? order by column_index",
            [table],
        ).fetchall()
    ]
    if not columns:
        return
    replaced = [f"{c} + m.r * {ID_STRIDE} as {c}" for c in columns if c in SHIFTED_IDS]
    replaced += [f"new_dlt_id({c}, m.r) as {c}" for c in columns if c in DLT_IDS]
    replace = ", ".join(replaced)
    select = f"select t.* replace ({replace}) from base.raw.{table} as t cross join capsule_replicas as m"  # noqa: S608 (our names)
    con.execute(f"create table raw.{table} as {select}")


def world(
    work_dir: Path,
    parties: int,
    *,
    xero_contacts: int | None = None,
    base_parties: int = 10_000,
    seed: int = 1,
) -> tuple[Path, dict[str, Any]]:
    """The cached N-party world file and what it holds (replicas, row counts)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    base = base_world(work_dir, base_parties, seed)
    with duckdb.connect(str(base), read_only=True) as con:
        ((base_contacts,),) = con.execute("select count(*) from raw.xero_contacts").fetchall()
    replicas = max(1, round(parties / base_parties))
    xero_replicas = max(replicas, round((xero_contacts or parties) / base_contacts))
    path = work_dir / (
        f"world-{replicas * base_parties}x{xero_replicas * base_contacts}"
        f"-base{base_parties}-seed{seed}-v{WORLD_VERSION}.duckdb"
    )
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        con = _connect_for_building(partial, base)
        try:
            con.execute("create schema raw")
            con.execute("create temp table capsule_replicas as select range as r from range(?)", [replicas])
            con.execute("create temp table xero_replicas as select range as r from range(?)", [xero_replicas])
            for table in SHARED_TABLES:
                con.execute(f"create table raw.{table} as from base.raw.{table}")
            for table in ACTIVITY_TABLES:
                _replicate_activity(con, table)
            for table, select in REPLICATED.items():
                sql = select.format(
                    table=table,
                    stride=ID_STRIDE,
                    capsule_replicas=replicas,
                    er="effective_replica(p.id, m.r)",
                )
                con.execute(f"create table raw.{table} as {sql}")
            con.execute("checkpoint")
        finally:
            con.close()
        partial.rename(path)
        print(f"world {path.name} built in {time.perf_counter() - started:.0f} s", flush=True)
    with duckdb.connect(str(path), read_only=True) as con:
        counts = dict(
            con.execute(
                "select table_name, estimated_size from duckdb_tables() where schema_name = 'raw'"
            ).fetchall()
        )
        ((n_parties,),) = con.execute("select count(*) from raw.capsule_parties").fetchall()
        ((n_contacts,),) = con.execute("select count(*) from raw.xero_contacts").fetchall()
    return path, {
        "replicas": replicas,
        "xero_replicas": xero_replicas,
        "parties": n_parties,
        "xero_contacts": n_contacts,
        "tables": counts,
    }

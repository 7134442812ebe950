-- This tool's latest write to each Capsule party (a pulled field, a tag, a create): one row per party,
-- replaced by each write (reverse_etl/apply/capsule_changes.py). A write bumps the party's updatedAt
-- like anyone's edit would; staging (transform/sql/staging/capsule_parties.sql) reads
-- capsule_updated_before / capsule_updated_after so the write is not taken for a Capsule edit, and
-- the value written comes back as no change (no echo).
create schema if not exists ledger;

create table if not exists ledger.capsule_writes (
    party_id bigint primary key,       -- one row per party: this tool's latest write to it
    contact_id varchar,
    plan_id bigint,
    seq integer,
    operation varchar,
    fields varchar,                    -- JSON {field: canonical value written}
    "at" timestamptz not null,
    capsule_updated_before timestamptz,  -- the party's updatedAt before this tool's first write in an unbroken run of its own writes
    capsule_updated_after timestamptz    -- Capsule's updatedAt in the answer to this tool's write
);

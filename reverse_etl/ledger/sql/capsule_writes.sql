-- This tool's own writes to Capsule parties (issue 13, pull; reverse_etl/apply/capsule_changes.py):
-- one row per party, its latest write. Staging reads it so that the updatedAt a write gave the party
-- is not taken for somebody's edit (no echo): while the party's updated_at <= capsule_updated_after,
-- its change time is capsule_updated_before.
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

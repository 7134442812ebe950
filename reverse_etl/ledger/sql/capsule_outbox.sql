-- The Capsule outbox (reverse_etl/apply/capsule_changes.py): one row per Capsule write (Xero → Capsule)
-- whose answer is not recorded yet, inserted and committed *before* the request leaves. Capsule takes
-- no idempotency key and adds a list row (or a party) again when a write is repeated
-- (docs/api-facts.md#capsule-writing), so a row still here at the start of a run is settled by reading
-- the party back (`change` holds all it takes) before anything is sent again. attempted_at is the first
-- attempt's time (a create is looked for among the parties changed since then);
-- capsule_updated_before is the party's updatedAt before the write (ledger.capsule_writes).
create schema if not exists ledger;

create table if not exists ledger.capsule_outbox (
    plan_id bigint not null,
    seq integer not null,
    party_id bigint,
    contact_id varchar,
    operation varchar not null,
    body varchar not null,
    change varchar not null,
    attempted_at timestamptz not null,
    capsule_updated_before timestamptz,
    primary key (plan_id, seq)
);

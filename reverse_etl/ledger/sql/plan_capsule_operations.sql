-- One row per Capsule write a plan makes with sync.direction: both (reconcile.capsule_operations, read as
-- reverse_etl/writers/capsule_parties.py CapsuleChange): `update` (fields pulled from Xero: after =
-- Xero's canonical value, before = Capsule's), `tag` / `untag` (the archived-in-Xero tag), `create` (a
-- Capsule party for a Xero contact no party has). row_ids: the Capsule row each field was read from, so
-- the write updates that row instead of adding one. base: the ledger row to start from when
-- ledger.written_contacts has none for the contact.
create schema if not exists ledger;

create table if not exists ledger.plan_capsule_operations (
    plan_id bigint not null,
    seq integer not null,
    operation varchar not null,
    party_id bigint,
    contact_id varchar not null,
    party_type varchar,
    changed_fields varchar[] not null,
    before json,
    after json not null,
    row_ids json,
    tag_name varchar,
    tag_id bigint,
    base json,
    reason varchar,
    primary key (plan_id, seq)
);

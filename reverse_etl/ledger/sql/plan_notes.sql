-- The History notes a plan adds (a snapshot of reconcile.history_notes).
create schema if not exists ledger;

create table if not exists ledger.plan_notes (
    plan_id bigint not null,
    party_id bigint not null,
    contact_id varchar,
    note_hash varchar not null,
    item_keys varchar[] not null,
    note varchar not null
);

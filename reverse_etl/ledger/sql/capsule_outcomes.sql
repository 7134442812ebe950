-- What became of each Capsule write of a plan (reverse_etl/apply/capsule_changes.py): done, failed
-- (Capsule refused it: its message; these rows are the Capsule side's error queue, since
-- ledger.error_queue holds one Xero write per party) or unknown (the answer was lost: the write waits
-- in ledger.capsule_outbox to be read back). party_id_created: the party a create made, which the next
-- run's matching links to the contact through its "Xero Contact ID" field.
create schema if not exists ledger;

create table if not exists ledger.capsule_outcomes (
    plan_id bigint not null,
    seq integer not null,
    party_id bigint,
    contact_id varchar,
    operation varchar,
    status varchar not null,
    message varchar,
    "at" timestamptz not null,
    party_id_created bigint,
    primary key (plan_id, seq)
);

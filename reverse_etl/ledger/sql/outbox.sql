-- The outbox (reverse_etl/apply/outbox.py): one row per attempt at one batch of contact writes,
-- inserted and committed *before* the request leaves (state sending). It is what lets a run killed at
-- any point find out, before it sends anything again, what really reached Xero
-- (docs/architecture.md#invariants: "no duplicates", "nothing lost"). Xero forgets an Idempotency-Key
-- after 6 minutes (docs/api-facts.md#xero-idempotency-keys), so after a crash the key is no use: a row
-- still `sending` (or `answered` with items left unknown) is settled by looking the contacts up by
-- ContactNumber / ContactID, changed since started_at, before anything is sent again.
-- settled = every item of the attempt has a final outcome or is known not to have landed.
create schema if not exists ledger;

create table if not exists ledger.outbox (
    plan_id bigint not null,
    batch_no integer not null,
    attempt integer not null,
    idempotency_key varchar not null,
    seqs integer[] not null,
    state varchar not null,
    started_at timestamptz not null,
    finished_at timestamptz,
    primary key (plan_id, batch_no, attempt)
);

-- The billing documents' outbox (reverse_etl/apply/documents.py): one row per document whose PUT may
-- have reached Xero without its answer being recorded, inserted and committed *before* the request
-- leaves. An Idempotency-Key replays only for 6 minutes (docs/api-facts.md#xero-idempotency-keys), so
-- a row still here at the start of a run is settled by looking the Reference up in Xero before
-- anything is sent again; generation numbers the attempts (the key is derived from the opportunity,
-- the kind and the generation).
create schema if not exists ledger;

create table if not exists ledger.document_outbox (
    reference varchar primary key,
    plan_id bigint not null,
    seq integer not null,
    kind varchar not null,
    contact_id varchar not null,
    generation integer not null,
    idempotency_key varchar not null,
    body varchar not null,
    attempted_at timestamptz not null
);

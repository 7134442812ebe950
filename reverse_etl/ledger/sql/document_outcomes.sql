-- What became of each billing document of a plan (reverse_etl/apply/documents.py): done (this tool
-- created the DRAFT; recovered when found by its Reference after a lost answer), exists (Xero already
-- had a document with that Reference, made by hand or elsewhere: not created again), failed (Xero
-- refused it, or its contact was never created: its message; planned again only once what it asks
-- changes, inputs_hash), unknown (the answer was lost: settled from ledger.document_outbox first in
-- the next run). After done: history_noted (the History note naming the opportunity) and
-- capsule_field (written, or why not) say what was added around the document.
create schema if not exists ledger;

create table if not exists ledger.document_outcomes (
    plan_id bigint not null,
    seq integer not null,
    reference varchar not null,
    kind varchar not null,
    opportunity_id bigint not null,
    status varchar not null,
    document_id varchar,
    document_number varchar,
    url varchar,
    message varchar,
    inputs_hash varchar,
    "at" timestamptz not null,
    history_noted boolean not null default false,
    capsule_field varchar,
    primary key (plan_id, seq)
);

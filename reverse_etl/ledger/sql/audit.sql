-- Every field a plan changed in Xero (and every undo of one): enough to show and to undo a plan
-- (reverse_etl/undo.py). contact_status rows record creates (null -> ACTIVE), archives and restores.
create schema if not exists ledger;

create table if not exists ledger.audit (
    plan_id bigint not null,
    seq integer not null,
    party_id bigint,
    contact_id varchar not null,
    field varchar not null,
    before varchar,
    after varchar,
    "at" timestamptz not null,
    reason varchar,
    is_undo boolean not null default false
);

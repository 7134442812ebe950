-- A History note on its way (reverse_etl/apply/notes.py): inserted before the call, removed when
-- history_notes has it. A row left behind by a crash is settled by reading the contact's History, never
-- by sending blind.
create schema if not exists ledger;

create table if not exists ledger.note_outbox (
    note_hash varchar primary key,
    plan_id bigint not null,
    party_id bigint not null,
    contact_id varchar not null,
    started_at timestamptz not null
);

-- Every History note this tool added to a Xero contact, so a note is never added twice (Xero's
-- History is append-only). The note's hash covers the party and the items it summarised
-- (transform/sql/reconcile/history_notes.sql); a row is written only after Xero accepted the note
-- (reverse_etl/apply/notes.py).
create schema if not exists ledger;

create table if not exists ledger.history_notes (
    party_id bigint not null,
    contact_id varchar,
    note_hash varchar primary key,
    item_keys varchar[] not null,
    written_at timestamptz not null
);

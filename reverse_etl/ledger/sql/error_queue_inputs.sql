-- Beside the error queue (error_queue.sql), one row per party it holds dead: the cx_operation_inputs
-- (reverse_etl/plans/sql/macros.sql) of the operation Xero refused. A plan leaves the party out while
-- the reconcile wants that very operation. No row (a person released it, the refusal was about another
-- contact's Name or ContactNumber, or it was refused before this table existed): the next plan sends
-- it again.
create schema if not exists ledger;

create table if not exists ledger.error_queue_inputs (
    party_id bigint primary key,
    inputs_hash varchar not null
);

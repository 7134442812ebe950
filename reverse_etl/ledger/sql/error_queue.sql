-- Parties whose last write Xero refused, with Xero's message (reverse_etl/apply/error_queue.py). A
-- refusal no retry can change (a validation error, or Xero's state forbids it) is `dead` at once: it
-- waits for a person, and plans leave the party out while the reconcile wants the very same operation
-- (error_queue_inputs.sql); once the record changes, or a person releases it, it is sent again. Only a
-- transient failure is `retrying`: sent again by later plans after next_attempt_at (growing delays),
-- dead after max_attempts.
create schema if not exists ledger;

create table if not exists ledger.error_queue (
    party_id bigint primary key,
    contact_id varchar,
    plan_id bigint,
    seq integer,
    operation varchar,
    error_kind varchar,
    message varchar,
    attempts integer not null,
    first_failed_at timestamptz not null,
    next_attempt_at timestamptz,
    state varchar not null
);

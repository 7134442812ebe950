-- The latest outcome of each planned operation: created | updated | archived | restored | exists (a
-- create an earlier, interrupted attempt had made) | failed (validation) | refused (Xero's state forbids
-- it, e.g. a repeating invoice) | queued (not sent: the party waits in the error queue) | unknown
-- (the answer was lost; settled by a lookup on the next run, never re-sent blind).
create schema if not exists ledger;

create table if not exists ledger.operation_outcomes (
    plan_id bigint not null,
    seq integer not null,
    status varchar not null,
    contact_id varchar,
    error_kind varchar,
    message varchar,
    "at" timestamptz not null,
    primary key (plan_id, seq)
);

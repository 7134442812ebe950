-- Parties the error queue held back from a plan (dead, or waiting for their next attempt), as the
-- queue stood when the plan was made, so the printed plan can say why they are missing.
create schema if not exists ledger;

create table if not exists ledger.plan_held_back (
    plan_id bigint not null,
    party_id bigint not null,
    operation varchar,
    queue_state varchar not null,
    next_attempt_at timestamptz,
    error_kind varchar,
    message varchar
);

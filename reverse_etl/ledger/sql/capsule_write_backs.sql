-- The ContactID write-back into the Capsule custom field (reverse_etl/apply/write_back.py): pending
-- until Capsule took it. Capsule's hourly limit (docs/api-facts.md#capsule-rate-limits) can stop a run
-- part way; what is pending is done by the next run. The write bumps the party's updatedAt like
-- anyone's edit would: capsule_updated_before (as staged when it was planned) and
-- capsule_updated_after (Capsule's answer) let staging tell the two apart.
create schema if not exists ledger;

create table if not exists ledger.capsule_write_backs (
    party_id bigint primary key,
    contact_id varchar not null,
    plan_id bigint,
    state varchar not null,
    message varchar,
    "at" timestamptz not null,
    capsule_updated_before timestamptz,
    capsule_updated_after timestamptz
);
alter table ledger.capsule_write_backs add column if not exists capsule_updated_before timestamptz;
alter table ledger.capsule_write_backs add column if not exists capsule_updated_after timestamptz;

-- One row per contact a plan writes (read as reverse_etl/plans/model.py PlanOperation). after: field ->
-- canonical value to send (only the fields in changed_fields); before: the same fields as Xero held
-- them when planned (null for a create). name is the contact's name once the plan is applied (the one
-- sent, else Xero's), for people reading the plan; it is never sent unless name is in changed_fields.
create schema if not exists ledger;

create table if not exists ledger.plan_operations (
    plan_id bigint not null,
    seq integer not null,
    operation varchar not null,
    party_id bigint not null,
    contact_id varchar,
    contact_number varchar,
    changed_fields varchar[] not null,
    after json not null,
    before json,
    kept_fields varchar[] not null,
    reason varchar,
    expect_refusal boolean not null,
    name varchar,
    primary key (plan_id, seq)
);

-- Stored, numbered plans (DESIGN.md, data flow 7; the table contract is in reverse_etl/plans.py).
-- DDL only and never replaced: a plan is what a person approved and what undo reads back, so it
-- must outlive every rebuild of the reconcile tables it was snapshotted from.
create schema if not exists ledger;

-- One row per plan. status: pending_approval | approved | applying | applied | partly_applied |
-- superseded | empty. xero_state_at is the newest UpdatedDateUTC in raw.xero_contacts when the plan
-- was made: a contact changed after it means the plan was computed against an older Xero.
-- content_hash covers the rules fingerprint, every operation and every note, so a re-plan that comes
-- out the same keeps the earlier plan (and its approval) instead of asking for approval again.
create table if not exists ledger.plans (
    plan_id bigint primary key,
    created_at timestamptz not null,
    rules_fingerprint varchar not null,
    xero_state_at timestamptz,
    capsule_state_at timestamptz,
    status varchar not null,
    approval_reasons varchar[] not null,
    operation_counts json not null,
    approved_at timestamptz,
    applied_at timestamptz,
    content_hash varchar
);

-- One row per contact the plan writes. after: field → canonical value to send (only the fields in
-- changed_fields); before: the same fields as Xero held them when planned (null for a create).
-- name is the contact's name once the plan is applied (the one sent, else Xero's), for people
-- reading the plan; it is never sent unless name is in changed_fields.
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

-- The History notes the plan adds (a snapshot of reconcile.history_notes).
create table if not exists ledger.plan_notes (
    plan_id bigint not null,
    party_id bigint not null,
    contact_id varchar,
    note_hash varchar not null,
    item_keys varchar[] not null,
    note varchar not null
);

-- Parties the error queue held back from the plan (dead, or waiting for their next attempt), as the
-- queue stood when the plan was made, so the printed plan can say why they are missing.
create table if not exists ledger.plan_held_back (
    plan_id bigint not null,
    party_id bigint not null,
    operation varchar,
    queue_state varchar not null,
    next_attempt_at timestamptz,
    error_kind varchar,
    message varchar
);

-- Beside the apply loop's error queue (sql/apply.sql), one row per party it holds dead: the
-- cx_operation_inputs of the operation Xero refused. A plan leaves the party out while the reconcile
-- wants that very operation. No row (a person released it, the refusal was about another contact's
-- Name or ContactNumber, or it was refused before this table existed): the next plan sends it again.
create table if not exists ledger.error_queue_inputs (
    party_id bigint primary key,
    inputs_hash varchar not null
);

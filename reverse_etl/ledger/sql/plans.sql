-- One row per stored, numbered plan (docs/architecture.md#plans-and-approval; reverse_etl/plans/).
-- status: pending_approval | approved | applying | applied | partly_applied | superseded | empty.
-- xero_state_at is the newest UpdatedDateUTC in raw.xero_contacts when the plan was made: a contact
-- changed after it means the plan was computed against an older Xero. content_hash covers the rules
-- fingerprint, every operation and every note, so a re-plan that comes out the same keeps the earlier
-- plan (and its approval) instead of asking for approval again. A plan is what a person approved and
-- what undo reads back, so it must outlive every rebuild of the reconcile tables it was made from.
create schema if not exists ledger;

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
-- Who approved a plan in the Dagster UI (assets/approval.py: approved_by from the run config or
-- DAGSTER_USER, approved_in_run the Dagster run id); null for a plan approved automatically or by
-- `capsule-xero approve`. Added after the table: ledgers made before have it added, empty.
alter table ledger.plans add column if not exists approved_by varchar;
alter table ledger.plans add column if not exists approved_in_run varchar;

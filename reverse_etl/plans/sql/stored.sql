-- Reading and writing stored plans: ledger.plans, plan_operations, plan_notes and plan_held_back
-- (DDL: reverse_etl/ledger/sql/). Named statements, run by reverse_etl/plans/.
--
-- name: next_plan_id
select coalesce(max(plan_id), 0) + 1 as plan_id
from ledger.plans;

-- name: supersede
-- Plans nothing has been sent for yet: the new plan replaces them.
update ledger.plans
set status = 'superseded'
where list_contains($statuses, status)
returning plan_id;

-- name: insert_plan
insert into ledger.plans (
    plan_id, created_at, rules_fingerprint, xero_state_at, capsule_state_at, status, approval_reasons,
    operation_counts, approved_at, applied_at, content_hash
)
values (
    $plan_id, $created_at, $rules_fingerprint, $xero_state_at, $capsule_state_at, $status, $approval_reasons,
    $operation_counts, $approved_at, null, $content_hash
);

-- name: store_operations
insert into ledger.plan_operations (
    plan_id, seq, operation, party_id, contact_id, contact_number, changed_fields, after, before,
    kept_fields, reason, expect_refusal, name
)
select
    $plan_id, seq, operation, party_id, contact_id, contact_number, changed_fields, after, before,
    kept_fields, reason, expect_refusal, name
from plan_draft_operations;

-- name: store_capsule_operations
insert into ledger.plan_capsule_operations (
    plan_id, seq, operation, party_id, contact_id, party_type, changed_fields, before, after, row_ids,
    tag_name, tag_id, base, reason
)
select
    $plan_id, seq, operation, party_id, contact_id, party_type, changed_fields, before, after, row_ids,
    tag_name, tag_id, base, reason
from plan_draft_capsule_operations;

-- name: capsule_operations
-- A plan's Capsule writes as stored, in order; optionally one kind only and at most $limit.
select
    plan_id, seq, operation, party_id, contact_id, party_type, changed_fields, before, after, row_ids,
    tag_name, tag_id, base, reason
from ledger.plan_capsule_operations
where plan_id = $plan_id and ($operation is null or operation = $operation)
order by seq
limit $limit;

-- name: store_notes
insert into ledger.plan_notes (plan_id, party_id, contact_id, note_hash, item_keys, note)
select $plan_id, party_id, contact_id, note_hash, item_keys, note
from plan_draft_notes;

-- name: reuse_plan
-- The newest plan stands in for an identical new one: recomputed against a newer Xero, same result.
update ledger.plans
set
    xero_state_at = $xero_state_at,
    capsule_state_at = $capsule_state_at,
    operation_counts = $operation_counts,
    status = $status,
    approval_reasons = $approval_reasons,
    approved_at = case when $status = 'approved' then coalesce(approved_at, $now) end
where plan_id = $plan_id;

-- name: close_interrupted
update ledger.plans
set status = 'partly_applied'
where plan_id = $plan_id;

-- name: approve
update ledger.plans
set status = 'approved', approved_at = $at, approved_by = $approved_by, approved_in_run = $approved_in_run
where plan_id = $plan_id;

-- name: mark
-- The apply loop's progress: applying, applied or partly_applied (applied_at set by the last two).
update ledger.plans
set status = $status, applied_at = case when $status = 'applying' then applied_at else $at end
where plan_id = $plan_id;

-- name: written_contacts
select count(*) as written
from ledger.written_contacts;

-- name: insert_held_back
insert into ledger.plan_held_back (
    plan_id, party_id, operation, queue_state, next_attempt_at, error_kind, message
)
values ($plan_id, $party_id, $operation, $queue_state, $next_attempt_at, $error_kind, $message);

-- name: forget_held_back
delete from ledger.plan_held_back
where plan_id = $plan_id;

-- name: held_back
select party_id, operation, queue_state, next_attempt_at, error_kind, message
from ledger.plan_held_back
where plan_id = $plan_id
order by party_id;

-- name: operations
-- A plan's operations as stored, in order; optionally one kind only and at most $limit.
select
    plan_id, seq, operation, party_id, contact_id, contact_number, name, changed_fields, after, before,
    kept_fields, reason, expect_refusal
from ledger.plan_operations
where plan_id = $plan_id and ($operation is null or operation = $operation)
order by seq
limit $limit;

-- name: operations_to_apply
-- A plan's writes as the apply loop sends them: ContactIDs lower-cased (Xero's answers are), and what
-- each asks of Xero (cx_operation_inputs, plans/sql/macros.sql) to compare with the error queue.
select
    o.plan_id,
    o.seq,
    o.operation,
    o.party_id,
    lower(o.contact_id) as contact_id,
    o.contact_number,
    o.name,
    coalesce(o.changed_fields, []::varchar[]) as changed_fields,
    cast(o.after as varchar) as after,
    cast(o.before as varchar) as before,
    coalesce(o.kept_fields, []::varchar[]) as kept_fields,
    o.reason,
    o.expect_refusal,
    cx_operation_inputs(
        o.operation, o.contact_id, o.contact_number, o.changed_fields, o.after, o.before, o.expect_refusal
    ) as inputs_hash
from ledger.plan_operations as o
where o.plan_id = $plan_id and o.operation in ('create', 'update', 'archive', 'restore')
order by o.seq;

-- name: notes
select plan_id, party_id, contact_id, note_hash, item_keys, note
from ledger.plan_notes
where plan_id = $plan_id
order by party_id, note_hash;

-- Stored plans, newest first: one plan ($plan_id), or the newest $limit when $plan_id is null.
select
    plan_id, created_at, status, rules_fingerprint, xero_state_at, capsule_state_at, approval_reasons,
    operation_counts, approved_at, applied_at, content_hash, approved_by, approved_in_run
from ledger.plans
where $plan_id is null or plan_id = $plan_id
order by plan_id desc
limit $limit

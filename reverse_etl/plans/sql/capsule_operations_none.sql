-- The Capsule writes of a plan made from a reconcile that has none (one-way, or a DuckDB file from before
-- two-way existed): the draft's columns, no rows. No parameters.
select * exclude (plan_id)
from ledger.plan_capsule_operations
where false

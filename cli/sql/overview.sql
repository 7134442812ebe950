-- One tenant's figures for `capsule-xero tenants overview` (cli/overview.py), read from its DuckDB file.

-- name: last_load
-- The newest load dlt completed (status 0): the last time a sync saved what it read from Capsule or Xero.
select max(inserted_at) as at
from raw._dlt_loads
where status = 0

-- name: last_plan
-- The newest plan made or applied: a sync that read nothing new still plans (or re-plans) and may apply.
select max(greatest(created_at, coalesce(applied_at, created_at))) as at
from ledger.plans

-- name: plans_waiting
select count(*) as waiting
from ledger.plans
where status = 'pending_approval'

-- name: dead_errors
-- Dead items: retries are over, a person must act (retrying ones are sent again by later runs).
select count(*) as dead
from ledger.error_queue
where state = 'dead'

-- A new plan's draft: the temporary tables plan_draft_operations and plan_draft_notes, made from
-- operations.sql and notes.sql, counted, trimmed of what the error queue holds back (held_back.sql),
-- then stored (stored.sql) or dropped (reverse_etl/plans/create.py). Named statements.
--
-- name: draft_counts
select operation, count(*) as operations
from plan_draft_operations
group by operation;

-- name: draft_notes
select count(*) as notes
from plan_draft_notes;

-- name: reconcile_count
-- What the reconcile found but no plan writes (review, hold): shown so nobody wonders where it went.
select count(*) as operations
from reconcile.contact_operations
where operation = $operation;

-- name: xero_state
-- The newest change seen in Xero's extract: what a plan is computed against.
select max(updated_date_utc) as state_at
from raw.xero_contacts;

-- name: capsule_state
select max(greatest(updated_at, deleted_at)) as state_at
from staging.capsule_parties;

-- name: drop_held_operations
delete from plan_draft_operations
where list_contains($party_ids, party_id);

-- name: drop_held_notes
delete from plan_draft_notes
where list_contains($party_ids, party_id);

-- name: renumber_operations
-- seq stays 1..n after parties were taken out.
create or replace temp table plan_draft_operations as
select * replace (cast(row_number() over (order by seq) as integer) as seq)
from plan_draft_operations;

-- name: drop_draft_operations
drop table if exists plan_draft_operations;

-- name: drop_draft_notes
drop table if exists plan_draft_notes;

-- name: draft_capsule_counts
select operation, count(*) as operations
from plan_draft_capsule_operations
group by operation;

-- name: drop_draft_capsule_operations
drop table if exists plan_draft_capsule_operations;

-- name: drop_capsule_seqs
delete from plan_draft_capsule_operations
where list_contains($seqs, seq);

-- name: renumber_capsule_operations
create or replace temp table plan_draft_capsule_operations as
select * replace (cast(row_number() over (order by seq) as integer) as seq)
from plan_draft_capsule_operations;

-- Operation outcomes and audit rows (reverse_etl/apply/recording.py; the tables:
-- reverse_etl/ledger/sql/operation_outcomes.sql, audit.sql).
--
-- name: outcomes
select seq, status, contact_id
from ledger.operation_outcomes
where plan_id = $plan_id;

-- name: record_outcomes
-- One statement per batch (rows as parallel lists): DuckDB pays per statement, not per row.
insert into ledger.operation_outcomes (plan_id, seq, status, contact_id, error_kind, message, "at")
select
    unnest(cast($plan_id as bigint[])),
    unnest(cast($seq as integer[])),
    unnest(cast($status as varchar[])),
    unnest(cast($contact_id as varchar[])),
    unnest(cast($error_kind as varchar[])),
    unnest(cast($message as varchar[])),
    $at
on conflict (plan_id, seq) do update set
    status = excluded.status,
    contact_id = coalesce(excluded.contact_id, operation_outcomes.contact_id),
    error_kind = excluded.error_kind,
    message = excluded.message,
    "at" = excluded."at";

-- name: party_contacts
-- The Xero contact of each party this plan touched successfully (created ones included).
select p.party_id, coalesce(o.contact_id, lower(p.contact_id)) as contact_id, p.operation
from ledger.plan_operations as p
inner join ledger.operation_outcomes as o on o.plan_id = p.plan_id and o.seq = p.seq
where p.plan_id = $plan_id and o.status in ('created', 'exists', 'updated', 'restored', 'archived')
order by p.seq;

-- name: audit
insert into ledger.audit (plan_id, seq, party_id, contact_id, field, before, after, "at", reason, is_undo)
select
    unnest(cast($plan_id as bigint[])),
    unnest(cast($seq as integer[])),
    unnest(cast($party_id as bigint[])),
    unnest(cast($contact_id as varchar[])),
    unnest(cast($field as varchar[])),
    unnest(cast($before as varchar[])),
    unnest(cast($after as varchar[])),
    $at,
    unnest(cast($reason as varchar[])),
    $is_undo;

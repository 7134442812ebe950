-- What undo reads back (reverse_etl/undo.py; the tables: reverse_etl/ledger/sql/audit.sql,
-- plan_operations.sql). Named statements.
--
-- name: plan_audit
-- Every field plan $plan_id changed, per operation in order, and whether an undo took it back already.
select
    a.seq,
    o.operation,
    a.party_id,
    lower(a.contact_id) as contact_id,
    o.contact_number,
    a.field,
    a.before,
    a.after,
    exists (
        select 1 from ledger.audit as u
        where u.plan_id = a.plan_id and u.seq = a.seq and u.field = a.field and u.is_undo
    ) as undone
from ledger.audit as a
left join ledger.plan_operations as o on o.plan_id = a.plan_id and o.seq = a.seq
where a.plan_id = $plan_id and not a.is_undo
order by a.seq, a."at";

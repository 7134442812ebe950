-- The Capsule writes of a new plan (sync.direction: both): reconcile.capsule_operations in a stable
-- order, creates last (a create is the only one that makes a record). No parameters.
select
    cast(row_number() over (
        order by list_position(['update', 'untag', 'tag', 'money', 'create'], operation), party_id, contact_id
    ) as integer) as seq,
    operation,
    party_id,
    contact_id,
    party_type,
    changed_fields,
    before,
    after,
    row_ids,
    tag_name,
    tag_id,
    base,
    reason
from reconcile.capsule_operations

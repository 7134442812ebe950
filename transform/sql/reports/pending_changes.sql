-- What the next plan would do, record by record: the operation, the fields it sends and why. Rows
-- that change nothing (noop) are left out; pending_diff counts them.
select
    o.operation,
    o.party_id,
    o.contact_id,
    o.contact_number,
    coalesce(o.name, d.name, x.name) as name,
    array_to_string(o.changed_fields, ', ') as changed_fields,
    o.reason
from reconcile.contact_operations as o
left join reconcile.desired_contacts as d on d.party_id = o.party_id
left join staging.xero_contacts as x on x.contact_id = o.contact_id
where o.operation <> 'noop'
order by
    case o.operation
        when 'create' then 1
        when 'update' then 2
        when 'restore' then 3
        when 'archive' then 4
        when 'review' then 5
        when 'hold' then 6
        else 7
    end,
    o.party_id,
    o.contact_id

-- What the next plan would do: reconcile.contact_operations counted by operation.
select
    operation,
    count(*) as records,
    count(contact_id) as existing_contacts
from reconcile.contact_operations
group by operation
order by
    case operation
        when 'create' then 1
        when 'update' then 2
        when 'restore' then 3
        when 'archive' then 4
        when 'review' then 5
        when 'hold' then 6
        when 'noop' then 7
        else 8
    end,
    operation

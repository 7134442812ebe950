-- name: writes_since
-- Contact writes this tool made since a moment (its clock), per contact: each explains one Xero
-- CONTACT webhook event for that contact, its echo; and whether all were updates, which the reconcile
-- can take from the ledger without reading Xero again (assets/fast_lane.py, XeroCopy).
select
    contact_id,
    count(*) as writes,
    bool_and(status = 'updated') as only_updates
from ledger.operation_outcomes
where
    contact_id is not null
    and status in ('created', 'exists', 'updated', 'archived', 'restored')
    and "at" >= $since
group by contact_id

-- name: newest_xero_load
-- When the newest copy of any Xero contact was read (dlt's load id: the load's start, in seconds).
select to_timestamp(max(try_cast(_dlt_load_id as double))) as loaded_at
from raw.xero_contacts

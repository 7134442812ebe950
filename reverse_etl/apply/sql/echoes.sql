-- name: writes_since
-- Contact writes this tool made since a moment (its clock), per contact: each explains one Xero
-- CONTACT webhook event for that contact, its echo (assets/fast_lane.py, Echoes).
select contact_id, count(*) as writes
from ledger.operation_outcomes
where contact_id is not null
    and status in ('created', 'updated', 'archived', 'restored')
    and "at" >= $since
group by contact_id

-- Contacts that received one of a plan's History notes. Parameters: $plan_id.
select h.contact_id
from ledger.history_notes as h
where h.contact_id is not null
    and h.note_hash in (select n.note_hash from ledger.plan_notes as n where n.plan_id = $plan_id)

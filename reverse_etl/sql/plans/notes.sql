-- The History notes of a new plan: reconcile.history_notes, minus the parties the error queue holds
-- back (their contact may not exist yet, or is in a state a person must settle first).
-- Parameters: $held_back (bigint[]: party ids left out).
select party_id, contact_id, note_hash, item_keys, note
from reconcile.history_notes
where not list_contains($held_back, party_id)
order by party_id, note_hash

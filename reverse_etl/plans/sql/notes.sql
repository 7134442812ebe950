-- The History notes of a new plan: reconcile.history_notes. The notes of parties the error queue
-- holds back (their contact may not exist yet, or is in a state a person must settle first) are
-- taken out afterwards (held_back.sql). No parameters.
select party_id, contact_id, note_hash, item_keys, note
from reconcile.history_notes
order by party_id, note_hash

-- The names of Capsule parties a plan's money lines show (reverse_etl/plans/render.py), as staging last
-- read them. Parameters: $party_ids.
select party_id, display_name
from staging.capsule_parties
where list_contains($party_ids, party_id)

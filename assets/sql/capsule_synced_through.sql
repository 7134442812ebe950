-- Capsule's newest party change or deletion in the raw tables, in Capsule's own clock: what the
-- webhook fast lane has read and synced (assets/fast_lane.py), for the polling sensor to skip.
with stamps as (
    select max(updated_at) as stamp from raw.capsule_parties
    union all
    select max(deleted_at) as stamp from raw.capsule_deleted_parties
)

select max(stamp) as synced_through
from stamps

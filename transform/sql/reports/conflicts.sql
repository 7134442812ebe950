-- Every field difference the conflict policy settled (reconcile.conflict_settlements: changed in Xero
-- only, changed on both sides, or different with no record of a write by this tool), with both
-- timestamps so a person can check why the side that won did (docs/mapping.md#conflict-policies).
select
    c.party_id,
    c.contact_id,
    p.display_name as name,
    c.field,
    c.conflict,
    c.capsule_value,
    c.xero_value,
    c.capsule_updated_at,
    c.xero_updated_at,
    c.policy,
    c.winner
from reconcile.conflict_settlements as c
left join staging.capsule_parties as p on p.party_id = c.party_id
order by c.party_id, c.field

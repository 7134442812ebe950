-- Capsule parties the rules file keeps out of the sync, with the rule that did.
select
    s.party_id,
    p.party_type,
    p.display_name as name,
    s.scope_reason
from reconcile.sync_scope as s
left join staging.capsule_parties as p on p.party_id = s.party_id
where not s.in_scope
order by s.party_id

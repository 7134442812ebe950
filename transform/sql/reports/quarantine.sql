-- Every quarantined value with its rule: what a person fixes in Capsule.
select
    q.source,
    q.record_id,
    p.display_name as name,
    q.rule,
    q.field,
    q.value,
    q.detail,
    q.effect
from staging.quarantine as q
left join staging.capsule_parties as p on q.source = 'capsule' and cast(p.party_id as varchar) = q.record_id
order by q.source, q.record_id, q.rule

-- Undo of a plan's Capsule writes (reverse_etl/undo_capsule.py). Named statements.
--
-- name: done_changes
-- The plan's Capsule writes that landed, with the party a create made and the stamp Capsule gave it.
select k.*, o.party_id_created, w.capsule_updated_after
from ledger.plan_capsule_operations as k
inner join ledger.capsule_outcomes as o on o.plan_id = k.plan_id and o.seq = k.seq and o.status = 'done'
left join ledger.capsule_writes as w
    on w.party_id = coalesce(k.party_id, o.party_id_created) and w.plan_id = k.plan_id and w.seq = k.seq
where k.plan_id = $plan_id
order by k.seq;

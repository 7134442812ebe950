-- Which ContactIDs Capsule should hold and does not (reverse_etl/plans/write_backs.py): named
-- statements. The table, ledger.capsule_write_backs, is in reverse_etl/ledger/sql/capsule_write_backs.sql.
--
-- name: plan_contacts
-- The Xero contact of each party plan $plan_id created, updated or restored.
select p.party_id, coalesce(o.contact_id, lower(p.contact_id)) as contact_id
from ledger.plan_operations as p
inner join ledger.operation_outcomes as o on o.plan_id = p.plan_id and o.seq = p.seq
where p.plan_id = $plan_id and o.status in ('created', 'exists', 'updated', 'restored')
order by p.seq;

-- name: matched_parties
-- Parties matched to an existing Xero contact (an earlier sync, a killed run that never wrote back):
-- their Capsule field should hold the ContactID too (CASES.md synced_crossref_missing_in_capsule).
-- Parties the rules leave out of the sync are left alone in Capsule too.
select m.party_id, lower(m.contact_id) as contact_id
from reconcile.contact_matches as m
left join reconcile.sync_scope as s on s.party_id = m.party_id
where m.outcome = 'matched' and m.contact_id is not null and coalesce(s.in_scope, true)
order by m.party_id;

-- name: pending_write_backs
select party_id, contact_id
from ledger.capsule_write_backs
where state = 'pending'
order by "at", party_id;

-- name: write_back_state
-- What Capsule holds (as last extracted) and what this tool last wrote there, per party. A write this
-- tool made counts until Capsule shows a later change of the party (the next extract brings the value
-- in, or a person cleared it: then it is written again).
select
    w.party_id,
    p.is_deleted,
    lower(p.xero_contact_id) as capsule_value,
    p.updated_at as capsule_updated_at,
    b.contact_id as written_id,
    b.state as written_state,
    b."at" as written_at
from (select unnest($party_ids) as party_id) as w
left join staging.capsule_parties as p on p.party_id = w.party_id
left join ledger.capsule_write_backs as b on b.party_id = w.party_id;

-- name: write_back_state_without_staging
select
    w.party_id,
    false as is_deleted,
    null as capsule_value,
    null as capsule_updated_at,
    b.contact_id as written_id,
    b.state as written_state,
    b."at" as written_at
from (select unnest($party_ids) as party_id) as w
left join ledger.capsule_write_backs as b on b.party_id = w.party_id;

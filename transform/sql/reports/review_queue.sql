-- Everything a person must look at, one row per item with its reason: matches the rules could not
-- decide, duplicates on either side, field conflicts left to a person (policy `manual`), pre-flight
-- problems settled by review (e.g. a Name another active Xero contact has, which Xero refuses:
-- docs/api-facts.md#xero-contact-fields-and-limits), planned writes the planned-row rules held back,
-- contacts the plan holds (archived in Xero by someone else: left alone, reported), and Xero contacts
-- two-way sync would create in Capsule but that look like a party Capsule has (capsule_create).
with capsule_duplicates as (
    select cast(record_id as bigint) as party_id
    from reports.duplicates
    where source = 'capsule'
)

select
    case when d.party_id is not null then 'capsule_duplicate' else 'match' end as kind,
    m.party_id,
    m.candidate_contact_id as contact_id,
    m.display_name as name,
    m.review_reason as reason
from reconcile.contact_matches as m
left join capsule_duplicates as d on d.party_id = m.party_id
where m.outcome = 'review'
union all
select 'xero_duplicate', null, contact_id, name, reason
from reconcile.xero_duplicates
union all
select
    'conflict',
    c.party_id,
    c.contact_id,
    p.display_name,
    c.field || ' (Capsule: ' || coalesce(c.capsule_value, 'empty') || ', Xero: ' || coalesce(c.xero_value, 'empty')
    || '): ' || c.reason
from reconcile.conflict_settlements as c
left join staging.capsule_parties as p on p.party_id = c.party_id
where c.decision = 'review'
union all
select
    'preflight',
    f.party_id,
    f.contact_id,
    p.display_name,
    coalesce(f.detail, f.problem)
from reconcile.preflight_problems as f
left join staging.capsule_parties as p on p.party_id = f.party_id
where f.settlement = 'review'
union all
select
    'planned_reject',
    r.party_id,
    r.contact_id,
    p.display_name,
    r.operation || ' held back: ' || r.rule || ' (' || r.field || ' = ' || coalesce(r.value, 'empty') || ')'
from reconcile.planned_rejects as r
left join staging.capsule_parties as p on p.party_id = r.party_id
union all
select 'held', o.party_id, o.contact_id, coalesce(o.name, x.name), o.reason
from reconcile.contact_operations as o
left join staging.xero_contacts as x on x.contact_id = o.contact_id
where o.operation = 'hold'
union all
select 'capsule_create', r.party_id, r.contact_id, x.name, r.reason
from reconcile.capsule_create_reviews as r
left join staging.xero_contacts as x on x.contact_id = r.contact_id
order by kind, party_id, contact_id

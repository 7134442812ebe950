-- Xero contacts no Capsule record accounts for: not matched or held as a review candidate, not named
-- by a party's "Xero Contact ID" field, and not touched by the pending diff (a contact whose party
-- was deleted is archived by the diff, so it is not "only in Xero"). The sync leaves them alone.
with accounted_for as (
    select contact_id from reconcile.contact_matches where contact_id is not null
    union
    select candidate_contact_id from reconcile.contact_matches where candidate_contact_id is not null
    union
    select lower(xero_contact_id) from staging.capsule_parties where xero_contact_id is not null
    union
    select contact_id from reconcile.contact_operations where contact_id is not null
),

duplicate_groups as (
    select contact_id, min(duplicate_group) as xero_duplicate_group
    from reconcile.xero_duplicates
    group by contact_id
)

select
    x.contact_id,
    x.name,
    x.contact_status,
    x.contact_number,
    x.abn,
    x.email,
    x.updated_at,
    d.xero_duplicate_group
from staging.xero_contacts as x
left join duplicate_groups as d on d.contact_id = x.contact_id
where x.contact_id not in (select contact_id from accounted_for)
order by x.is_archived, x.name, x.contact_id

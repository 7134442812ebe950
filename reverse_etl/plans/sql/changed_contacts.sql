-- Xero contacts changed (or created) after the state a plan was computed against: UpdatedDateUTC in
-- raw.xero_contacts (a fresh extract) later than the plan's xero_state_at. Any such contact may be
-- one of the plan's, or one whose new Name a planned create or rename would now collide with (Name is
-- unique among active contacts, docs/api-facts.md#xero-contact-fields-and-limits), so any one makes the
-- plan stale.
-- The plan's own writes are not changes by someone else: contacts it has already written
-- ($own_contact_ids, from the ledger), and contacts carrying the ContactNumber of one of its creates
-- (a create whose answer was lost still made the contact; the apply loop finds it by that number).
-- Parameters: $plan_id, $own_contact_ids (varchar[]).
with plan as (
    select xero_state_at from ledger.plans where plan_id = $plan_id
),

own_numbers as (
    select lower(contact_number) as contact_number
    from ledger.plan_operations
    where plan_id = $plan_id and operation = 'create' and contact_number is not null
)

select x.contact_id, x.name, x.updated_date_utc
from raw.xero_contacts as x
cross join plan as p
where (p.xero_state_at is null or x.updated_date_utc > p.xero_state_at)
    and not list_contains($own_contact_ids, x.contact_id)
    and not exists (select 1 from own_numbers as n where n.contact_number = lower(x.contact_number))
order by x.updated_date_utc, x.contact_id

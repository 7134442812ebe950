-- What each Capsule party owes, per currency (never AUD added to USD): Xero's sales invoices (ACCREC)
-- that are AUTHORISED, i.e. approved and not yet paid in full; AmountDue is what Xero says is left
-- after payments and credit notes (docs/api-facts.md#xero-money-reading). Overdue: due before today.
-- A party's Xero contact is the one reconcile.contact_matches settled on; a person who belongs to an
-- organisation counts under the organisation (the organisation with its people rolled up into it).
-- Owner and tags are the organisation's (or the person's, when it has none).
with linked_contacts as (
    select m.contact_id, coalesce(p.organisation_id, p.party_id) as party_id
    from reconcile.contact_matches as m
    inner join staging.capsule_parties as p on p.party_id = m.party_id
    where m.contact_id is not null
),

open_invoices as (
    select
        l.party_id,
        i.invoice_id,
        i.currency_code as currency,
        i.amount_due,
        i.due_date,
        i.due_date < current_date as is_overdue
    from raw.xero_invoices as i
    inner join linked_contacts as l on l.contact_id = lower(i.contact__contact_id)
    where i.type = 'ACCREC' and i.status = 'AUTHORISED'
),

per_party as (
    select
        party_id,
        currency,
        sum(amount_due) as outstanding,
        coalesce(sum(amount_due) filter (where is_overdue), 0.00) as overdue,
        count(*) as invoice_count,
        count(*) filter (where is_overdue) as overdue_invoice_count,
        min(due_date) as oldest_due_date
    from open_invoices
    group by party_id, currency
)

select
    r.party_id,
    p.display_name as party_name,
    r.currency,
    r.outstanding,
    r.overdue,
    r.invoice_count,
    r.overdue_invoice_count,
    r.oldest_due_date,
    p.owner_name as owner,
    p.tags
from per_party as r
left join staging.capsule_parties as p on p.party_id = r.party_id
order by r.overdue desc, r.outstanding desc, r.party_id, r.currency

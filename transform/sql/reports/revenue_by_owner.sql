-- Invoiced revenue by Capsule owner, month and currency: sales invoices Xero counts as income
-- (ACCREC, AUTHORISED or PAID; a DRAFT or SUBMITTED one is not yet, a VOIDED or DELETED one never)
-- minus sales credit notes (ACCRECCREDIT, AUTHORISED or PAID), in each document's own currency, by
-- the month of its Date. GST apart: sub_total is ex GST, total_tax the GST, total both
-- (docs/api-facts.md#xero-money-gst-and-rounding). The owner is the linked party's (a person under
-- an organisation counts as the organisation); every document counts once, under
-- "(no owner)" when the party has none and "(not in Capsule)" when no party is linked to the contact,
-- so the totals are Xero's.
with linked_contacts as (
    select m.contact_id, coalesce(p.organisation_id, p.party_id) as party_id
    from reconcile.contact_matches as m
    inner join staging.capsule_parties as p on p.party_id = m.party_id
    where m.contact_id is not null
),

sales_documents as (
    select
        lower(contact__contact_id) as contact_id,
        currency_code as currency,
        date,
        sub_total,
        total_tax,
        total,
        true as is_invoice
    from raw.xero_invoices
    where type = 'ACCREC' and status in ('AUTHORISED', 'PAID')
    union all
    select
        lower(contact__contact_id) as contact_id,
        currency_code as currency,
        date,
        -sub_total,
        -total_tax,
        -total,
        false as is_invoice
    from raw.xero_credit_notes
    where type = 'ACCRECCREDIT' and status in ('AUTHORISED', 'PAID')
),

owned as (
    select
        d.*,
        case
            when l.party_id is null then '(not in Capsule)'
            else coalesce(p.owner_name, '(no owner)')
        end as owner
    from sales_documents as d
    left join linked_contacts as l on l.contact_id = d.contact_id
    left join staging.capsule_parties as p on p.party_id = l.party_id
)

select
    date_trunc('month', date)::date as month,
    owner,
    currency,
    sum(sub_total) as sub_total,
    sum(total_tax) as total_tax,
    sum(total) as total,
    count(*) filter (where is_invoice) as invoice_count,
    count(*) filter (where not is_invoice) as credit_note_count
from owned
group by all
order by month, owner, currency

-- Invoiced revenue by Capsule owner, month and currency (the documents of reports.sales_revenue):
-- sales invoices Xero counts as income (ACCREC, AUTHORISED or PAID; a DRAFT or SUBMITTED one is not yet, a VOIDED or DELETED one never)
-- minus sales credit notes (ACCRECCREDIT, AUTHORISED or PAID), in each document's own currency, by
-- the month of its Date. GST apart: sub_total is ex GST, total_tax the GST, total both
-- (docs/api-facts.md#xero-money-gst-and-rounding). The owner is the linked party's (a person under
-- an organisation counts as the organisation); every document counts once, under
-- "(no owner)" when the party has none and "(not in Capsule)" when no party is linked to the contact,
-- so the totals are Xero's.
with owned as (
    select
        d.*,
        case
            when d.party_id is null then '(not in Capsule)'
            else coalesce(p.owner_name, '(no owner)')
        end as owner
    from reports.sales_revenue as d
    left join staging.capsule_parties as p on p.party_id = d.party_id
)

select
    date_trunc('month', date)::date as month,
    owner,
    currency,
    sum(sub_total) as sub_total,
    sum(total_tax) as total_tax,
    sum(total) as total,
    count(*) filter (where kind = 'invoice') as invoice_count,
    count(*) filter (where kind = 'credit_note') as credit_note_count
from owned
group by all
order by month, owner, currency

-- Parties with overdue sales invoices that Capsule still has open opportunities for: someone may be
-- about to sell more to a customer who has not paid. One row per party and invoice currency: the
-- overdue amount (AUTHORISED ACCREC invoices due before today, AmountDue), the party's open
-- opportunities (every currency) and the value of those in the row's currency.
-- Open: no closedOn and no lostReason (docs/api-facts.md#capsule-opportunities-kases-and-tasks);
-- opportunities Capsule lists as deleted or restricted are left out. A person's invoices and
-- opportunities count under its organisation, as in the receivables report.
with linked_contacts as (
    select m.contact_id, coalesce(p.organisation_id, p.party_id) as party_id
    from reconcile.contact_matches as m
    inner join staging.capsule_parties as p on p.party_id = m.party_id
    where m.contact_id is not null
),

overdue as (
    select
        l.party_id,
        i.currency_code as currency,
        sum(i.amount_due) as overdue_amount,
        count(*) as overdue_invoice_count,
        min(i.due_date) as oldest_due_date
    from raw.xero_invoices as i
    inner join linked_contacts as l on l.contact_id = lower(i.contact__contact_id)
    where i.type = 'ACCREC' and i.status = 'AUTHORISED' and i.due_date < current_date
    group by l.party_id, i.currency_code
),

open_opportunities as (
    select
        coalesce(p.organisation_id, o.party__id) as party_id,
        o.id,
        -- A file loaded before the amount became DECIMAL holds a double: back to its exact cents.
        o.value__amount::decimal(18, 2) as value,
        o.value__currency as currency
    from raw.capsule_opportunities as o
    left join staging.capsule_parties as p on p.party_id = o.party__id
    where
        o.closed_on is null
        and o.lost_reason__id is null
        and o.id not in (select d.id from raw.capsule_deleted_opportunities as d)
),

opportunity_counts as (
    select party_id, count(*) as open_opportunity_count
    from open_opportunities
    group by party_id
),

opportunity_values as (
    select party_id, currency, sum(value) as open_opportunity_value
    from open_opportunities
    where value is not null
    group by party_id, currency
)

select
    d.party_id,
    p.display_name as party_name,
    d.currency,
    d.overdue_amount,
    d.overdue_invoice_count,
    d.oldest_due_date,
    c.open_opportunity_count,
    coalesce(v.open_opportunity_value, 0.00) as open_opportunity_value,
    p.owner_name as owner
from overdue as d
inner join opportunity_counts as c on c.party_id = d.party_id
left join opportunity_values as v on v.party_id = d.party_id and v.currency = d.currency
left join staging.capsule_parties as p on p.party_id = d.party_id
order by d.overdue_amount desc, d.party_id, d.currency

-- Open pipeline beside invoiced revenue, by month and currency. Pipeline: Capsule's open
-- opportunities (no closedOn, no lostReason; deleted or restricted ones left out) by the month of
-- their expected close, their value and their value weighted by probability (value × probability
-- / 100, exact to the hundredth of a cent; DuckDB's decimal division would give a double, so the
-- weight is a decimal product). An opportunity without a value counts but adds nothing; one without
-- an expected close date has no month. Revenue: the documents of reports.sales_revenue (ACCREC invoices
-- AUTHORISED or PAID minus ACCRECCREDIT credit notes AUTHORISED or PAID) by the month of their Date.
with open_opportunities as (
    select
        date_trunc('month', o.expected_close_on)::date as month,
        o.value__currency as currency,
        -- A file loaded before the amount became DECIMAL holds a double: back to its exact cents.
        o.value__amount::decimal(18, 2) as value,
        o.probability
    from raw.capsule_opportunities as o
    where
        o.closed_on is null
        and o.lost_reason__id is null
        and o.id not in (select d.id from raw.capsule_deleted_opportunities as d)
),

pipeline as (
    select
        month,
        currency,
        count(*) as open_opportunity_count,
        coalesce(sum(value), 0.00) as open_value,
        coalesce(sum((value * probability::decimal(5, 0) * 0.01)::decimal(18, 4)), 0.0000) as weighted_pipeline
    from open_opportunities
    group by month, currency
),

revenue as (
    select
        date_trunc('month', date)::date as month,
        currency,
        sum(sub_total) as sub_total,
        sum(total_tax) as total_tax,
        sum(total) as total
    from reports.sales_revenue
    group by all
)

select
    coalesce(p.month, r.month) as month,
    coalesce(p.currency, r.currency) as currency,
    coalesce(p.open_opportunity_count, 0) as open_opportunity_count,
    coalesce(p.open_value, 0.00) as open_value,
    coalesce(p.weighted_pipeline, 0.0000) as weighted_pipeline,
    coalesce(r.sub_total, 0.00) as invoiced_sub_total,
    coalesce(r.total_tax, 0.00) as invoiced_total_tax,
    coalesce(r.total, 0.00) as invoiced_total
from pipeline as p
full outer join revenue as r on r.month = p.month and r.currency = p.currency
order by month nulls last, currency

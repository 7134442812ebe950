-- reports.pipeline_vs_revenue against Xero: per month and currency, the report's invoiced total beside
-- Xero's Total summed over the same documents (ACCREC invoices AUTHORISED or PAID, less ACCRECCREDIT
-- credit notes AUTHORISED or PAID). The report counts no documents, so only the totals are compared.
with documents as (
    select date, currency_code as currency, total
    from raw.xero_invoices
    where type = 'ACCREC' and status in ('AUTHORISED', 'PAID')
    union all
    select date, currency_code, -total
    from raw.xero_credit_notes
    where type = 'ACCRECCREDIT' and status in ('AUTHORISED', 'PAID')
),

xero as (
    select date_trunc('month', date)::date::varchar as key, currency, sum(total) as total, count(*) as documents
    from documents
    group by all
),

report as (
    select month::varchar as key, currency, sum(invoiced_total) as total
    from reports.pipeline_vs_revenue
    where invoiced_total <> 0
    group by all
)

select
    coalesce(r.key, x.key) as key,
    coalesce(r.currency, x.currency) as currency,
    r.total as report_total,
    x.total as xero_total,
    x.documents as report_documents,
    x.documents as xero_documents
from report as r
full outer join xero as x on x.key = r.key and x.currency = r.currency

-- reports.revenue_by_owner against Xero: per month and currency, the report's total over every owner
-- beside Xero's Total summed over the same documents (ACCREC invoices AUTHORISED or PAID, less
-- ACCRECCREDIT credit notes AUTHORISED or PAID), each counted once.
with documents as (
    select invoice_id as document_id, date, currency_code as currency, total
    from raw.xero_invoices
    where type = 'ACCREC' and status in ('AUTHORISED', 'PAID')
    union all
    select credit_note_id, date, currency_code, -total
    from raw.xero_credit_notes
    where type = 'ACCRECCREDIT' and status in ('AUTHORISED', 'PAID')
),

xero as (
    select date_trunc('month', date)::date::varchar as key, currency, sum(total) as total, count(*) as documents
    from documents
    group by all
),

report as (
    select
        month::varchar as key,
        currency,
        sum(total) as total,
        sum(invoice_count + credit_note_count) as documents
    from reports.revenue_by_owner
    group by all
)

select
    coalesce(r.key, x.key) as key,
    coalesce(r.currency, x.currency) as currency,
    r.total as report_total,
    x.total as xero_total,
    r.documents as report_documents,
    x.documents as xero_documents
from report as r
full outer join xero as x on x.key = r.key and x.currency = r.currency

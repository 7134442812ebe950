-- reports.xero_customers_unknown against Xero: per contact and currency, the report's invoiced total and
-- document count beside Xero's over the same documents (ACCREC invoices and ACCRECCREDIT credit
-- notes not VOIDED or DELETED, quotes not DELETED; Total of invoices AUTHORISED or PAID less credit
-- notes AUTHORISED or PAID) of the contacts no party is linked to.
with documents as (
    select
        invoice_id as document_id,
        lower(contact__contact_id) as contact_id,
        currency_code as currency,
        case when status in ('AUTHORISED', 'PAID') then total else 0 end as total
    from raw.xero_invoices
    where type = 'ACCREC' and status not in ('VOIDED', 'DELETED')
    union all
    select
        credit_note_id,
        lower(contact__contact_id),
        currency_code,
        case when status in ('AUTHORISED', 'PAID') then -total else 0 end
    from raw.xero_credit_notes
    where type = 'ACCRECCREDIT' and status not in ('VOIDED', 'DELETED')
    union all
    select quote_id, lower(contact__contact_id), currency_code, 0
    from raw.xero_quotes
    where status <> 'DELETED'
),

xero as (
    select contact_id as key, currency, sum(total) as total, count(*) as documents
    from documents
    where contact_id not in (select m.contact_id from reconcile.contact_matches as m where m.contact_id is not null)
    group by all
),

report as (
    select
        contact_id as key,
        currency,
        sum(invoiced_total) as total,
        sum(invoice_count + credit_note_count + quote_count) as documents
    from reports.xero_customers_unknown
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

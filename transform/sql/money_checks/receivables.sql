-- reports.receivables against Xero: per party and currency, the report's outstanding and invoice count
-- beside Xero's own AmountDue summed over the same documents (AUTHORISED sales invoices of the
-- contacts linked to the party, a person's under its organisation), each document once.
with documents as (
    select distinct
        i.invoice_id,
        coalesce(p.organisation_id, p.party_id)::varchar as key,
        i.currency_code as currency,
        i.amount_due as amount
    from raw.xero_invoices as i
    inner join reconcile.contact_matches as m on m.contact_id = lower(i.contact__contact_id)
    inner join staging.capsule_parties as p on p.party_id = m.party_id
    where i.type = 'ACCREC' and i.status = 'AUTHORISED'
),

xero as (
    select key, currency, sum(amount) as total, count(*) as documents
    from documents
    group by key, currency
),

report as (
    select party_id::varchar as key, currency, sum(outstanding) as total, sum(invoice_count) as documents
    from reports.receivables
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

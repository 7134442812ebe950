-- reports.overdue_with_open_opportunities against Xero: for each party the report lists, its overdue
-- amount and invoice count per currency beside Xero's AmountDue summed over the same documents
-- (AUTHORISED sales invoices due before today of the contacts linked to the party), each once.
with documents as (
    select distinct
        i.invoice_id,
        coalesce(p.organisation_id, p.party_id)::varchar as key,
        i.currency_code as currency,
        i.amount_due as amount
    from raw.xero_invoices as i
    inner join reconcile.contact_matches as m on m.contact_id = lower(i.contact__contact_id)
    inner join staging.capsule_parties as p on p.party_id = m.party_id
    where i.type = 'ACCREC' and i.status = 'AUTHORISED' and i.due_date < current_date
),

report as (
    select party_id::varchar as key, currency, sum(overdue_amount) as total, sum(overdue_invoice_count) as documents
    from reports.overdue_with_open_opportunities
    group by all
),

xero as (
    select key, currency, sum(amount) as total, count(*) as documents
    from documents
    where key in (select r.key from report as r)
    group by key, currency
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

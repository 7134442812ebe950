-- Xero contacts with sales documents (ACCREC invoices and ACCRECCREDIT credit notes not VOIDED or
-- DELETED, quotes not DELETED) that no Capsule party is linked to in reconcile.contact_matches:
-- customers Capsule does not know. Per contact and currency: how many documents, the invoiced total
-- (invoices AUTHORISED or PAID minus credit notes AUTHORISED or PAID, as in revenue_by_owner), what
-- is outstanding (AmountDue of AUTHORISED invoices) and the latest document's date.
-- in_review: a party is a candidate for the contact but the match waits for a person
-- (reports.review_queue).
with linked_contacts as (
    select contact_id from reconcile.contact_matches where contact_id is not null
),

review_candidates as (
    select candidate_contact_id as contact_id
    from reconcile.contact_matches
    where contact_id is null and candidate_contact_id is not null
),

sales_documents as (
    select
        lower(contact__contact_id) as contact_id,
        contact__name as contact_name,
        currency_code as currency,
        date,
        'invoice' as kind,
        case when status in ('AUTHORISED', 'PAID') then total end as invoiced,
        case when status = 'AUTHORISED' then amount_due end as outstanding
    from raw.xero_invoices
    where type = 'ACCREC' and status not in ('VOIDED', 'DELETED')
    union all
    select
        lower(contact__contact_id) as contact_id,
        contact__name as contact_name,
        currency_code as currency,
        date,
        'credit_note' as kind,
        case when status in ('AUTHORISED', 'PAID') then -total end as invoiced,
        null as outstanding
    from raw.xero_credit_notes
    where type = 'ACCRECCREDIT' and status not in ('VOIDED', 'DELETED')
    union all
    select
        lower(contact__contact_id) as contact_id,
        contact__name as contact_name,
        currency_code as currency,
        date,
        'quote' as kind,
        null as invoiced,
        null as outstanding
    from raw.xero_quotes
    where status <> 'DELETED'
)

select
    d.contact_id,
    coalesce(any_value(x.name), any_value(d.contact_name)) as name,
    any_value(x.contact_status) as contact_status,
    d.currency,
    count(*) filter (where d.kind = 'invoice') as invoice_count,
    count(*) filter (where d.kind = 'credit_note') as credit_note_count,
    count(*) filter (where d.kind = 'quote') as quote_count,
    coalesce(sum(d.invoiced), 0.00) as invoiced_total,
    coalesce(sum(d.outstanding), 0.00) as outstanding,
    max(d.date) as last_document_date,
    d.contact_id in (select r.contact_id from review_candidates as r) as in_review
from sales_documents as d
left join staging.xero_contacts as x on x.contact_id = d.contact_id
where d.contact_id not in (select l.contact_id from linked_contacts as l)
group by d.contact_id, d.currency
order by invoiced_total desc, d.contact_id, d.currency

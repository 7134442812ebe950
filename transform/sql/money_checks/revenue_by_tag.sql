-- reports.revenue_by_tag against Xero: per tag, month and currency, the report's total beside Xero's
-- Total summed over the same documents (ACCREC invoices AUTHORISED or PAID, less ACCRECCREDIT credit
-- notes AUTHORISED or PAID) of the contacts linked to a party with that tag, each document once per
-- tag; "(no tag)" and "(not in Capsule)" as the report names them.
with documents as (
    select invoice_id as document_id, lower(contact__contact_id) as contact_id, date, currency_code as currency, total
    from raw.xero_invoices
    where type = 'ACCREC' and status in ('AUTHORISED', 'PAID')
    union all
    select credit_note_id, lower(contact__contact_id), date, currency_code, -total
    from raw.xero_credit_notes
    where type = 'ACCRECCREDIT' and status in ('AUTHORISED', 'PAID')
),

contact_tags as (
    select m.contact_id, list_distinct(coalesce(o.tags, []::varchar[])) as tags
    from reconcile.contact_matches as m
    inner join staging.capsule_parties as p on p.party_id = m.party_id
    left join staging.capsule_parties as o on o.party_id = coalesce(p.organisation_id, p.party_id)
    where m.contact_id is not null
),

tagged as (
    select distinct
        d.document_id,
        d.date,
        d.currency,
        d.total,
        unnest(
            case
                when t.contact_id is null then ['(not in Capsule)']
                when len(t.tags) = 0 then ['(no tag)']
                else t.tags
            end
        ) as tag
    from documents as d
    left join contact_tags as t on t.contact_id = d.contact_id
),

xero as (
    select
        tag || ' ' || date_trunc('month', date)::date::varchar as key,
        currency,
        sum(total) as total,
        count(*) as documents
    from tagged
    group by all
),

report as (
    select
        tag || ' ' || month::varchar as key,
        currency,
        sum(total) as total,
        sum(invoice_count + credit_note_count) as documents
    from reports.revenue_by_tag
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

-- Invoiced revenue by Capsule tag, month and currency: the documents of revenue_by_owner (ACCREC
-- invoices AUTHORISED or PAID minus ACCRECCREDIT credit notes AUTHORISED or PAID, each in its own
-- currency, by the month of its Date; sub_total ex GST, total_tax the GST, total both). A document
-- counts once under each tag of its party (a person under an organisation counts as the
-- organisation), so a party with two tags adds its revenue to both and the tags of a month do not
-- add up to the month's revenue; "(no tag)" holds the documents of untagged parties and
-- "(not in Capsule)" those of contacts no party is linked to.
with linked_contacts as (
    select m.contact_id, coalesce(p.organisation_id, p.party_id) as party_id
    from reconcile.contact_matches as m
    inner join staging.capsule_parties as p on p.party_id = m.party_id
    where m.contact_id is not null
),

sales_documents as (
    select
        lower(contact__contact_id) as contact_id,
        currency_code as currency,
        date,
        sub_total,
        total_tax,
        total,
        true as is_invoice
    from raw.xero_invoices
    where type = 'ACCREC' and status in ('AUTHORISED', 'PAID')
    union all
    select
        lower(contact__contact_id) as contact_id,
        currency_code as currency,
        date,
        -sub_total,
        -total_tax,
        -total,
        false as is_invoice
    from raw.xero_credit_notes
    where type = 'ACCRECCREDIT' and status in ('AUTHORISED', 'PAID')
),

party_tags as (
    select
        l.contact_id,
        case
            when len(list_distinct(coalesce(p.tags, []::varchar[]))) = 0 then ['(no tag)']
            else list_distinct(p.tags)
        end as tags
    from linked_contacts as l
    left join staging.capsule_parties as p on p.party_id = l.party_id
),

tagged as (
    select d.*, unnest(coalesce(t.tags, ['(not in Capsule)'])) as tag
    from sales_documents as d
    left join party_tags as t on t.contact_id = d.contact_id
)

select
    date_trunc('month', date)::date as month,
    tag,
    currency,
    sum(sub_total) as sub_total,
    sum(total_tax) as total_tax,
    sum(total) as total,
    count(*) filter (where is_invoice) as invoice_count,
    count(*) filter (where not is_invoice) as credit_note_count
from tagged
group by all
order by month, tag, currency

-- Invoiced revenue by Capsule tag, month and currency: the documents of reports.sales_revenue (ACCREC
-- invoices AUTHORISED or PAID minus ACCRECCREDIT credit notes AUTHORISED or PAID, each in its own
-- currency, by the month of its Date; sub_total ex GST, total_tax the GST, total both). A document
-- counts once under each tag of its party (a person under an organisation counts as the
-- organisation), so a party with two tags adds its revenue to both and the tags of a month do not
-- add up to the month's revenue; "(no tag)" holds the documents of untagged parties and
-- "(not in Capsule)" those of contacts no party is linked to.
with party_tags as (
    select
        p.party_id,
        case
            when len(list_distinct(coalesce(p.tags, []::varchar[]))) = 0 then ['(no tag)']
            else list_distinct(p.tags)
        end as tags
    from staging.capsule_parties as p
),

tagged as (
    select d.*, unnest(coalesce(t.tags, ['(not in Capsule)'])) as tag
    from reports.sales_revenue as d
    left join party_tags as t on t.party_id = d.party_id
)

select
    date_trunc('month', date)::date as month,
    tag,
    currency,
    sum(sub_total) as sub_total,
    sum(total_tax) as total_tax,
    sum(total) as total,
    count(*) filter (where kind = 'invoice') as invoice_count,
    count(*) filter (where kind = 'credit_note') as credit_note_count
from tagged
group by all
order by month, tag, currency

-- reports.won_not_invoiced against the sources: each listed opportunity's value beside Capsule's own
-- (raw.capsule_opportunities), and the sales invoices Xero has for it (Reference CAP-OPP-<id>, or a
-- linked contact's invoice dated on or after the win), which must be none: the report lists no
-- document, so report_documents is 0. An opportunity listed twice shows as twice its value.
with report as (
    select opportunity_id, any_value(party_id) as party_id, any_value(won_on) as won_on,
        any_value(currency) as currency, sum(value) as value
    from reports.won_not_invoiced
    group by opportunity_id
),

invoices as (
    select i.invoice_id, lower(i.contact__contact_id) as contact_id, i.date, i.reference
    from raw.xero_invoices as i
    where i.type = 'ACCREC' and i.status not in ('VOIDED', 'DELETED')
),

linked as (
    select m.contact_id, coalesce(p.organisation_id, p.party_id) as party_id
    from reconcile.contact_matches as m
    inner join staging.capsule_parties as p on p.party_id = m.party_id
    where m.contact_id is not null
),

followed as (
    select r.opportunity_id, count(distinct i.invoice_id) as documents
    from report as r
    inner join invoices as i
        on i.reference = 'CAP-OPP-' || r.opportunity_id
        or (i.date >= r.won_on and i.contact_id in (select l.contact_id from linked as l where l.party_id = r.party_id))
    group by r.opportunity_id
)

select
    r.opportunity_id::varchar as key,
    r.currency,
    r.value as report_total,
    o.value__amount::decimal(18, 2) as xero_total,
    0 as report_documents,
    coalesce(f.documents, 0) as xero_documents
from report as r
left join raw.capsule_opportunities as o on o.id = r.opportunity_id
left join followed as f on f.opportunity_id = r.opportunity_id

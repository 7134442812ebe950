-- Won Capsule opportunities that no sales invoice followed: listed once
-- money.won_not_invoiced_days (reconcile.money_report_settings) have passed since the win and Xero
-- has no sales invoice (ACCREC, any status but VOIDED or DELETED: a draft means the billing is under
-- way) for the party's Xero contacts dated on or after the win, nor one with Reference
-- CAP-OPP-<id> (what this tool writes on the drafts it creates).
-- Won: Capsule has no won flag; the opportunity sits on a milestone of probability 100 and has a
-- closedOn, with no lostReason (a lost one sits on a 0 % milestone with a lostReason;
-- docs/api-facts.md#capsule-opportunities-kases-and-tasks). All three must hold: the stricter
-- reading. Deleted or restricted opportunities are left out. A person's opportunities count under its
-- organisation, whose contacts' invoices count for it.
with settings as (
    select won_not_invoiced_days as days from reconcile.money_report_settings
),

linked_contacts as (
    select m.contact_id, coalesce(p.organisation_id, p.party_id) as party_id
    from reconcile.contact_matches as m
    inner join staging.capsule_parties as p on p.party_id = m.party_id
    where m.contact_id is not null
),

won as (
    select
        o.id,
        o.name,
        coalesce(p.organisation_id, o.party__id) as party_id,
        o.owner__name as owner,
        o.closed_on,
        -- A file loaded before the amount became DECIMAL holds a double: back to its exact cents.
        o.value__amount::decimal(18, 2) as value,
        o.value__currency as currency
    from raw.capsule_opportunities as o
    left join staging.capsule_parties as p on p.party_id = o.party__id
    where
        o.probability = 100
        and o.closed_on is not null
        and o.lost_reason__id is null
        and o.id not in (select d.id from raw.capsule_deleted_opportunities as d)
),

sales_invoices as (
    select i.invoice_id, lower(i.contact__contact_id) as contact_id, i.date, i.reference
    from raw.xero_invoices as i
    where i.type = 'ACCREC' and i.status not in ('VOIDED', 'DELETED')
),

invoiced as (
    select w.id
    from won as w
    inner join linked_contacts as l on l.party_id = w.party_id
    inner join sales_invoices as s on s.contact_id = l.contact_id and s.date >= w.closed_on
    union
    select w.id
    from won as w
    inner join sales_invoices as s on s.reference = 'CAP-OPP-' || w.id
)

select
    w.id as opportunity_id,
    w.name as opportunity,
    w.party_id,
    p.display_name as party_name,
    w.owner,
    w.closed_on as won_on,
    current_date - w.closed_on as days_since_won,
    w.currency,
    w.value,
    w.party_id in (select l.party_id from linked_contacts as l) as has_xero_contact
from won as w
cross join settings as s
left join staging.capsule_parties as p on p.party_id = w.party_id
where w.closed_on + s.days < current_date and w.id not in (select i.id from invoiced as i)
order by w.closed_on, w.id

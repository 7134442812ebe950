-- Every document Xero counts as sales revenue, one row a document: sales invoices (ACCREC) that are
-- AUTHORISED or PAID (a DRAFT or SUBMITTED one is not yet, a VOIDED or DELETED one never) and, with
-- their amounts negative, sales credit notes (ACCRECCREDIT) that are AUTHORISED or PAID; in each
-- document's own currency. GST apart: sub_total is ex GST, total_tax the GST, total both
-- (docs/api-facts.md#xero-money-gst-and-rounding). party_id is the Capsule party the contact counts
-- under (a person under an organisation counts as the organisation), null when no party is linked.
-- revenue_by_owner, revenue_by_tag and pipeline_vs_revenue add these rows up.
with linked_contacts as (
    select m.contact_id, coalesce(p.organisation_id, p.party_id) as party_id
    from reconcile.contact_matches as m
    inner join staging.capsule_parties as p on p.party_id = m.party_id
    where m.contact_id is not null
),

documents as (
    select
        invoice_id as document_id,
        'invoice' as kind,
        invoice_number as document_number,
        lower(contact__contact_id) as contact_id,
        currency_code as currency,
        date,
        sub_total,
        total_tax,
        total
    from raw.xero_invoices
    where type = 'ACCREC' and status in ('AUTHORISED', 'PAID')
    union all
    select
        credit_note_id,
        'credit_note',
        credit_note_number,
        lower(contact__contact_id),
        currency_code,
        date,
        -sub_total,
        -total_tax,
        -total
    from raw.xero_credit_notes
    where type = 'ACCRECCREDIT' and status in ('AUTHORISED', 'PAID')
)

select d.*, l.party_id
from documents as d
left join linked_contacts as l on l.contact_id = d.contact_id

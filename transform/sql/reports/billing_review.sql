-- DRAFT quotes or invoices for won opportunities that the billing preflight stopped in the newest plan
-- (docs/billing.md): one row per document, with every reason (naming the record and the rules key).
-- They are never sent to Xero; each sync plans them again until what the reason names is fixed.
select
    d.plan_id,
    d.reference,
    d.kind,
    d.opportunity_id,
    d.party_id,
    d.party_name,
    d.contact_id,
    d.reason
from ledger.plan_documents as d
where d.operation = 'review' and d.plan_id = (select max(p.plan_id) from ledger.plans as p)
order by d.opportunity_id

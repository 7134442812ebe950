-- reconcile.billing_preflight when Xero's settings were never extracted (raw.xero_accounts, tax rates,
-- tracking, currencies or items missing: money off, or billing turned on since the last extract).
-- Same columns as billing_preflight.sql; every planned document waits, none is checked blind.
create or replace table reconcile.billing_preflight as
select
    d.reference,
    d.kind,
    d.opportunity_id,
    d.party_id,
    d.party_name,
    d.contact_id,
    'settings' as problem,
    'Xero''s accounts, tax rates, tracking, currencies and items are not extracted yet, so this document'
    || ' cannot be checked: run `capsule-xero sync` (billing reads them)' as reason
from reconcile.billing_documents as d
order by d.opportunity_id;

-- Xero values a two-way sync does not copy to Capsule (reconcile/pull_quarantine.sql), with the rule
-- they break and the contact's name: what a person fixes in Xero.
select
    x.record_id as contact_id,
    c.name,
    x.party_id,
    x.rule,
    x.field,
    x.value,
    x.detail,
    x.effect
from reconcile.pull_quarantine as x
left join staging.xero_contacts as c on c.contact_id = x.record_id
order by x.record_id, x.rule

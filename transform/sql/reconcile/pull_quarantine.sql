-- Values of Xero that a two-way sync does not copy to Capsule, with the rule they break
-- (reconcile/contact_diffs.sql, pull_blocked_rule): the same columns as staging.quarantine, source
-- 'xero', so the quarantine report lists both. The diff keeps Xero's value; a person fixes it in Xero.
--   abn_checksum  a TaxNumber that is not a valid ABN (checked both ways: it never lands in Capsule)
--   phone_kind    a phone Capsule would read back as the other kind (an Australian mobile in DEFAULT,
--                 a landline in MOBILE): copied, it would come back as a change on every run
select
    'xero' as source,
    contact_id as record_id,
    party_id,
    pull_blocked_rule as rule,
    field,
    current_value as value,
    pull_blocked_detail as detail,
    'not copied to Capsule; each side keeps its value' as effect
from reconcile.contact_diffs
where pull_blocked_rule is not null

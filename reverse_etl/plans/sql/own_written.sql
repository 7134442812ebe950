-- Contacts a plan has already written, by the ledger of writes. Parameters: $plan_id.
select contact_id from ledger.written_contacts where plan_id = $plan_id

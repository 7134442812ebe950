-- Contacts a plan's operations reached, by their recorded outcomes (the apply loop's table).
-- Parameters: $plan_id.
select contact_id from ledger.operation_outcomes where plan_id = $plan_id and contact_id is not null

-- Contacts of every operation a plan has sent or started to send (the outbox records a batch before
-- it goes out, so after a crash its writes may have landed with no answer recorded).
-- Parameters: $plan_id.
select o.contact_id
from ledger.plan_operations as o
where o.plan_id = $plan_id
    and o.contact_id is not null
    and o.seq in (select unnest(b.seqs) from ledger.outbox as b where b.plan_id = $plan_id)

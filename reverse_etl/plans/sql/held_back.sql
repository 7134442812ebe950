-- Parties the error queue keeps out of a new plan, read from the plan's draft (temporary tables
-- plan_draft_operations and plan_draft_notes):
-- - dead: Xero refused the operation and no retry can change that (a validation error, or its state
--   forbids it). Held back while the draft asks Xero the very same thing (cx_operation_inputs equal
--   to the hash kept in ledger.error_queue_inputs); a changed record, or a person's release (no hash),
--   sends it again.
--   A party the draft wants only a History note for is not held: the refused write is no longer
--   wanted (moot_failures.sql drops it).
-- - retrying (a transient failure): held until next_attempt_at, with its notes.
-- Parameters: $now (timestamptz).
with wanted as (
    select
        party_id,
        operation,
        cx_operation_inputs(
            operation, contact_id, contact_number, changed_fields, after, before, expect_refusal
        ) as inputs_hash
    from plan_draft_operations
    union all
    select party_id, 'note' as operation, null as inputs_hash
    from plan_draft_notes
    where party_id not in (select party_id from plan_draft_operations)
)

select distinct on (q.party_id)
    q.party_id,
    w.operation,
    q.state as queue_state,
    q.next_attempt_at,
    q.error_kind,
    q.message
from ledger.error_queue as q
inner join wanted as w on w.party_id = q.party_id
left join ledger.error_queue_inputs as i on i.party_id = q.party_id
where
    (q.state = 'dead' and w.operation <> 'note' and i.inputs_hash = w.inputs_hash)
    or (q.state = 'retrying' and q.next_attempt_at > $now)
order by q.party_id

-- Parties the error queue keeps out of a new plan: dead ones (a person must act) and those whose next
-- retry is not due yet (their growing delay is what keeps a failing record from being sent every
-- run). Only parties the reconcile wants to write (an operation or a note) are held back: the others
-- have nothing to send anyway. Parameters: $now (timestamptz).
with wanted as (
    select party_id, operation
    from reconcile.contact_operations
    where operation in ('create', 'update', 'archive', 'restore')
    union all
    select party_id, 'note' as operation
    from reconcile.history_notes
    where party_id not in (
        select party_id from reconcile.contact_operations where operation in ('create', 'update', 'archive', 'restore')
    )
)

select
    q.party_id,
    w.operation,
    q.state as queue_state,
    q.next_attempt_at,
    q.error_kind,
    q.message
from ledger.error_queue as q
inner join wanted as w on w.party_id = q.party_id
where q.state = 'dead' or q.next_attempt_at > $now
order by q.party_id

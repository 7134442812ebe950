-- The error queue's statements (reverse_etl/apply/error_queue.py; the tables:
-- reverse_etl/ledger/sql/error_queue.sql, error_queue_inputs.sql).
--
-- name: error_queue
select q.party_id, q.state, q.attempts, q.next_attempt_at, q.message, i.inputs_hash
from ledger.error_queue as q
left join ledger.error_queue_inputs as i on i.party_id = q.party_id;

-- name: queue_failure
-- A party that fails again keeps its first_failed_at and counts one more attempt. A transient failure
-- ($retry) waits a delay that grows with the attempts ($delay is worked out from them in Python) and
-- is dead after $max_attempts; any other refusal is dead at once: a person must act.
insert into ledger.error_queue (
    party_id, contact_id, plan_id, seq, operation, error_kind, message, attempts, first_failed_at,
    next_attempt_at, state
)
values (
    $party_id, $contact_id, $plan_id, $seq, $operation, $error_kind, $message, $attempts, $at,
    case when $retry and $attempts < $max_attempts then $at + $delay end,
    case when $retry and $attempts < $max_attempts then 'retrying' else 'dead' end
)
on conflict (party_id) do update set
    contact_id = excluded.contact_id,
    plan_id = excluded.plan_id,
    seq = excluded.seq,
    operation = excluded.operation,
    error_kind = excluded.error_kind,
    message = excluded.message,
    attempts = excluded.attempts,
    next_attempt_at = excluded.next_attempt_at,
    state = excluded.state;

-- name: forget_inputs
delete from ledger.error_queue_inputs
where party_id = $party_id;

-- name: keep_inputs
-- What Xero refused, for a party that now waits for a person (see reverse_etl/plans/sql/held_back.sql).
insert or replace into ledger.error_queue_inputs (party_id, inputs_hash)
values ($party_id, $inputs_hash);

-- name: release_failures
-- A person releases parties waiting in the error queue: the next plan sends their operation again.
delete from ledger.error_queue_inputs
where party_id in (
    select party_id from ledger.error_queue
    where list_contains(cast($party_ids as bigint[]), party_id) and state = 'dead'
);

-- name: waiting_failures
select party_id
from ledger.error_queue
where list_contains(cast($party_ids as bigint[]), party_id) and state = 'dead'
order by party_id;

-- name: clear_failure
delete from ledger.error_queue
where party_id = $party_id;

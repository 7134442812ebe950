-- The outbox's statements (reverse_etl/apply/outbox.py; the table: reverse_etl/ledger/sql/outbox.sql).
-- An attempt is inserted and committed before its request leaves; an answered batch is closed in the
-- transaction that records its outcomes; attempts left open by a crash are settled by a lookup.
--
-- name: next_batch_no
select coalesce(max(batch_no), 0) + 1 as batch_no
from ledger.outbox
where plan_id = $plan_id;

-- name: insert_attempt
insert into ledger.outbox (plan_id, batch_no, attempt, idempotency_key, seqs, state, started_at)
values ($plan_id, $batch_no, $attempt, $idempotency_key, $seqs, 'sending', $started_at);

-- name: close_batch
update ledger.outbox
set state = $state, finished_at = $at
where plan_id = $plan_id and batch_no = $batch_no and state in ('sending', 'answered');

-- name: open_attempts
-- Attempts whose outcome was never stored (a crash between the send and the answer), or whose answer
-- left items unknown: what the next run must look up before it sends anything.
select plan_id, batch_no, min(started_at) as started_at, list_distinct(flatten(list(seqs))) as seqs
from ledger.outbox
where state in ('sending', 'answered')
group by plan_id, batch_no
order by plan_id, batch_no;

-- name: settle_attempts
update ledger.outbox
set state = 'settled', finished_at = $at
where plan_id = $plan_id and batch_no = $batch_no and state in ('sending', 'answered');

-- The three queues that wait for a person, as the Dagster UI shows them (assets/queues.py): counts by
-- reason, and the first rows ($limit) with the ids a person looks up. The review queue is the report
-- view (transform/sql/reports/review_queue.sql), the quarantine the staging table
-- (transform/quarantine.py), the error queue the ledger's (reverse_etl/ledger/sql/error_queue.sql).
--
-- name: review_queue_counts
select kind as reason, count(*) as items
from reports.review_queue
group by all
order by reason;

-- name: review_queue_sample
select kind, party_id, contact_id, name, reason
from reports.review_queue
order by kind, party_id, contact_id
limit $limit;

-- name: quarantine_counts
select rule as reason, count(*) as items
from staging.quarantine
group by all
order by reason;

-- name: quarantine_sample
select q.record_id as party_id, p.display_name as name, q.rule, q.field, q.value, q.effect
from staging.quarantine as q
left join staging.capsule_parties as p on cast(p.party_id as varchar) = q.record_id
order by q.rule, q.record_id, q.field
limit $limit;

-- name: error_queue_counts
-- A dead entry whose refused inputs are kept waits for a person; one without them (released, or a
-- Name or ContactNumber another contact held: reverse_etl/apply/error_queue.py) is sent again by the
-- next sync; a retrying one is sent again once its next attempt is due.
with items as (
    select
        q.error_kind,
        case
            when q.state = 'retrying' then 'retrying'
            when i.party_id is not null then 'waits_for_a_person'
            else 'sent_again_by_the_next_sync'
        end as situation
    from ledger.error_queue as q
    left join ledger.error_queue_inputs as i on i.party_id = q.party_id
)

select situation || ' (' || coalesce(error_kind, 'error') || ')' as reason, count(*) as items
from items
group by all
order by reason;

-- name: error_queue_sample
with items as (
    select
        q.party_id,
        q.contact_id,
        q.operation,
        q.error_kind,
        q.message,
        q.attempts,
        q.next_attempt_at,
        q.first_failed_at,
        case
            when q.state = 'retrying' then 'retrying'
            when i.party_id is not null then 'waits_for_a_person'
            else 'sent_again_by_the_next_sync'
        end as situation
    from ledger.error_queue as q
    left join ledger.error_queue_inputs as i on i.party_id = q.party_id
)

select party_id, contact_id, situation, operation, error_kind, message, attempts, next_attempt_at
from items
order by situation = 'waits_for_a_person' desc, first_failed_at, party_id
limit $limit;

-- name: error_queue_waiting
-- The entries a person must act on: dead, with what Xero refused kept.
select count(*) as waiting
from ledger.error_queue as q
inner join ledger.error_queue_inputs as i on i.party_id = q.party_id
where q.state = 'dead';

-- name: error_queue_item
select q.party_id, q.state, q.next_attempt_at, q.message
from ledger.error_queue as q
where q.party_id = $party_id;

-- The apply loop's durable state (reverse_etl/apply.py, reverse_etl/undo.py). DDL is `if not exists`
-- and never replaced: these rows are what lets a run killed at any point find out, before it sends
-- anything again, what really reached Xero (DESIGN.md invariants "no duplicates", "nothing lost").
-- The statements after the DDL are named (`-- name: ...`) and loaded by reverse_etl/apply.py.
--
-- name: tables
create schema if not exists ledger;

-- One row per attempt at one batch of contact writes, inserted and committed *before* the request
-- leaves (state sending). Xero forgets an Idempotency-Key after 6 minutes (xero FACTS §10), so after a
-- crash the key is no use: a row still `sending` (or `answered` with items left unknown) is settled by
-- looking the contacts up by ContactNumber / ContactID, changed since started_at, before anything is
-- sent again. settled = every item of the attempt has a final outcome or is known not to have landed.
create table if not exists ledger.outbox (
    plan_id bigint not null,
    batch_no integer not null,
    attempt integer not null,
    idempotency_key varchar not null,
    seqs integer[] not null,
    state varchar not null,
    started_at timestamptz not null,
    finished_at timestamptz,
    primary key (plan_id, batch_no, attempt)
);

-- The latest outcome of each planned operation: created | updated | archived | restored | exists (a
-- create an earlier, interrupted attempt had made) | failed (validation) | refused (Xero's state forbids
-- it, e.g. a repeating invoice) | queued (not sent: the party waits in the error queue) | unknown
-- (the answer was lost; settled by a lookup on the next run, never re-sent blind).
create table if not exists ledger.operation_outcomes (
    plan_id bigint not null,
    seq integer not null,
    status varchar not null,
    contact_id varchar,
    error_kind varchar,
    message varchar,
    "at" timestamptz not null,
    primary key (plan_id, seq)
);

-- Every field a plan changed in Xero (and every undo of one): enough to show and to undo a plan.
-- contact_status rows record creates (null -> ACTIVE), archives and restores.
create table if not exists ledger.audit (
    plan_id bigint not null,
    seq integer not null,
    party_id bigint,
    contact_id varchar not null,
    field varchar not null,
    before varchar,
    after varchar,
    "at" timestamptz not null,
    reason varchar,
    is_undo boolean not null default false
);

-- Parties whose last write Xero refused, with Xero's message. A refusal no retry can change (a
-- validation error, or Xero's state forbids it) is `dead` at once: it waits for a person, and plans
-- leave the party out while the reconcile wants the very same operation (ledger.error_queue_inputs,
-- sql/plans.sql); once the record changes, or a person releases it, it is sent again. Only a
-- transient failure is `retrying`: sent again by later plans after next_attempt_at (growing
-- delays), dead after max_attempts.
create table if not exists ledger.error_queue (
    party_id bigint primary key,
    contact_id varchar,
    plan_id bigint,
    seq integer,
    operation varchar,
    error_kind varchar,
    message varchar,
    attempts integer not null,
    first_failed_at timestamptz not null,
    next_attempt_at timestamptz,
    state varchar not null
);

-- A History note on its way: inserted before the call, removed when ledger.history_notes has it. A
-- row left behind by a crash is settled by reading the contact's History, never by sending blind.
create table if not exists ledger.note_outbox (
    note_hash varchar primary key,
    plan_id bigint not null,
    party_id bigint not null,
    contact_id varchar not null,
    started_at timestamptz not null
);

-- name: plan
select plan_id, status, xero_state_at
from ledger.plans
where plan_id = $plan_id;

-- name: plan_operations
select
    o.seq,
    o.operation,
    o.party_id,
    lower(o.contact_id) as contact_id,
    o.contact_number,
    coalesce(o.changed_fields, []::varchar[]) as changed_fields,
    cast(o.after as varchar) as after,
    cast(o.before as varchar) as before,
    coalesce(o.kept_fields, []::varchar[]) as kept_fields,
    o.reason,
    cx_operation_inputs(
        o.operation, o.contact_id, o.contact_number, o.changed_fields, o.after, o.before, o.expect_refusal
    ) as inputs_hash
from ledger.plan_operations as o
where o.plan_id = $plan_id and o.operation in ('create', 'update', 'archive', 'restore')
order by o.seq;

-- name: outcomes
select seq, status, contact_id
from ledger.operation_outcomes
where plan_id = $plan_id;

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

-- name: record_outcomes
-- One statement per batch (rows as parallel lists): DuckDB pays per statement, not per row.
insert into ledger.operation_outcomes (plan_id, seq, status, contact_id, error_kind, message, "at")
select
    unnest(cast($plan_id as bigint[])),
    unnest(cast($seq as integer[])),
    unnest(cast($status as varchar[])),
    unnest(cast($contact_id as varchar[])),
    unnest(cast($error_kind as varchar[])),
    unnest(cast($message as varchar[])),
    $at
on conflict (plan_id, seq) do update set
    status = excluded.status,
    contact_id = coalesce(excluded.contact_id, operation_outcomes.contact_id),
    error_kind = excluded.error_kind,
    message = excluded.message,
    "at" = excluded."at";

-- name: written_contacts
select
    contact_id,
    contact_status, contact_number, name, first_name, last_name, email_address, tax_number, website,
    phone_default, phone_mobile, phone_fax, street_address, postal_address, contact_persons, contact_groups
from ledger.written_contacts
where contact_id in (select unnest($contact_ids));

-- name: write_contacts
insert or replace into ledger.written_contacts (
    contact_id, party_id, plan_id, written_at, contact_status, contact_number, name, first_name, last_name,
    email_address, tax_number, website, phone_default, phone_mobile, phone_fax, street_address,
    postal_address, contact_persons, contact_groups
)
select
    unnest(cast($contact_id as varchar[])),
    unnest(cast($party_id as bigint[])),
    unnest(cast($plan_id as bigint[])),
    $written_at,
    unnest(cast($contact_status as varchar[])),
    unnest(cast($contact_number as varchar[])),
    unnest(cast($name as varchar[])),
    unnest(cast($first_name as varchar[])),
    unnest(cast($last_name as varchar[])),
    unnest(cast($email_address as varchar[])),
    unnest(cast($tax_number as varchar[])),
    unnest(cast($website as varchar[])),
    unnest(cast($phone_default as varchar[])),
    unnest(cast($phone_mobile as varchar[])),
    unnest(cast($phone_fax as varchar[])),
    unnest(cast($street_address as varchar[])),
    unnest(cast($postal_address as varchar[])),
    unnest(cast($contact_persons as varchar[])),
    unnest(cast($contact_groups as varchar[]));

-- name: set_written_groups
update ledger.written_contacts as w
set contact_groups = g.contact_groups, written_at = $at, plan_id = g.plan_id
from (
    select
        unnest(cast($contact_id as varchar[])) as contact_id,
        unnest(cast($contact_groups as varchar[])) as contact_groups,
        unnest(cast($plan_id as bigint[])) as plan_id
) as g
where w.contact_id = g.contact_id;

-- name: groups_sending
insert or replace into ledger.group_outbox (contact_id, party_id, plan_id, target, started_at)
select
    unnest(cast($contact_id as varchar[])),
    unnest(cast($party_id as bigint[])),
    unnest(cast($plan_id as bigint[])),
    unnest(cast($target as varchar[])),
    $at;

-- name: groups_done
delete from ledger.group_outbox
where contact_id in (select unnest(cast($contact_id as varchar[])));

-- name: audit
insert into ledger.audit (plan_id, seq, party_id, contact_id, field, before, after, "at", reason, is_undo)
select
    unnest(cast($plan_id as bigint[])),
    unnest(cast($seq as integer[])),
    unnest(cast($party_id as bigint[])),
    unnest(cast($contact_id as varchar[])),
    unnest(cast($field as varchar[])),
    unnest(cast($before as varchar[])),
    unnest(cast($after as varchar[])),
    $at,
    unnest(cast($reason as varchar[])),
    $is_undo;

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
-- What Xero refused, for a party that now waits for a person (see sql/plans.sql).
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

-- name: party_contacts
-- The Xero contact of each party this plan touched successfully (created ones included).
select p.party_id, coalesce(o.contact_id, lower(p.contact_id)) as contact_id, p.operation
from ledger.plan_operations as p
inner join ledger.operation_outcomes as o on o.plan_id = p.plan_id and o.seq = p.seq
where p.plan_id = $plan_id and o.status in ('created', 'exists', 'updated', 'restored', 'archived')
order by p.seq;

-- name: notes_to_add
select n.party_id, lower(n.contact_id) as contact_id, n.note_hash, n.item_keys, n.note
from ledger.plan_notes as n
where
    n.plan_id = $plan_id
    and not exists (select 1 from ledger.history_notes as h where h.note_hash = n.note_hash)
order by n.party_id;

-- name: live_contact_of_party
select contact_id
from ledger.written_contacts
where party_id = $party_id and contact_status = 'ACTIVE'
order by written_at desc
limit 1;

-- name: note_sending
insert or replace into ledger.note_outbox (note_hash, plan_id, party_id, contact_id, started_at)
values ($note_hash, $plan_id, $party_id, $contact_id, $at);

-- name: note_written
insert into ledger.history_notes (party_id, contact_id, note_hash, item_keys, written_at)
select party_id, contact_id, note_hash, $item_keys, $at
from ledger.note_outbox
where note_hash = $note_hash
on conflict (note_hash) do nothing;

-- name: note_done
delete from ledger.note_outbox
where note_hash = $note_hash;

-- name: open_notes
select o.note_hash, o.plan_id, o.party_id, o.contact_id, n.item_keys, n.note
from ledger.note_outbox as o
left join ledger.plan_notes as n on n.plan_id = o.plan_id and n.note_hash = o.note_hash
order by o.started_at;

-- name: plan_time_xero
-- Xero's values when planned (the reconcile tables a current plan was made from), for the ledger's
-- fields the plan neither sends nor keeps.
select
    lower(contact_id) as contact_id,
    contact_number, name, first_name, last_name, email_address, tax_number, website, phone_default,
    phone_mobile, phone_fax, street_address, postal_address, contact_persons, contact_groups
from reconcile.current_contacts
where lower(contact_id) in (select unnest($contact_ids));

-- name: plan_time_capsule
-- The Capsule values a plan compared and kept Xero's value against (its kept_fields).
select
    party_id,
    contact_number, name, first_name, last_name, email_address, tax_number, website, phone_default,
    phone_mobile, phone_fax, street_address, postal_address, contact_persons, contact_groups
from reconcile.desired_contacts
where party_id in (select unnest($party_ids));

-- name: settle_pending_write_backs
-- Pending write-backs Capsule already shows (written by a run killed before it recorded them).
update ledger.capsule_write_backs as b
set state = 'written', message = null, "at" = $at
from staging.capsule_parties as p
where b.state = 'pending' and p.party_id = b.party_id and lower(p.xero_contact_id) = lower(b.contact_id);

-- name: write_backs_pending
insert or replace into ledger.capsule_write_backs
    (party_id, contact_id, plan_id, state, message, "at", capsule_updated_before, capsule_updated_after)
select
    unnest(cast($party_id as bigint[])),
    unnest(cast($contact_id as varchar[])),
    $plan_id,
    'pending',
    null,
    $at,
    unnest(cast($updated_before as timestamptz[])),
    null;

-- name: write_backs_done
update ledger.capsule_write_backs as b
set state = $state, message = d.message, "at" = $at, capsule_updated_after = d.updated_after
from (
    select
        unnest(cast($party_id as bigint[])) as party_id,
        unnest(cast($message as varchar[])) as message,
        unnest(cast($updated_after as timestamptz[])) as updated_after
) as d
where b.party_id = d.party_id;

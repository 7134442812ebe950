-- The Capsule stage of an apply run (reverse_etl/apply/capsule_changes.py): its outbox, its outcomes,
-- the record of this tool's own Capsule writes and the base of the next three-way diff.
--
-- name: open_outbox
select plan_id, seq, change, attempted_at, capsule_updated_before
from ledger.capsule_outbox
order by attempted_at, plan_id, seq;

-- name: outbox_seqs
select seq from ledger.capsule_outbox where plan_id = $plan_id;

-- name: insert_outbox
-- A write sent again keeps its first attempt's time: a create is looked for from then on.
insert into ledger.capsule_outbox (
    plan_id, seq, party_id, contact_id, operation, body, change, attempted_at, capsule_updated_before
)
values ($plan_id, $seq, $party_id, $contact_id, $operation, $body, $change, $attempted_at, $updated_before)
on conflict (plan_id, seq) do update set
    body = excluded.body,
    capsule_updated_before = excluded.capsule_updated_before;

-- name: delete_outbox
delete from ledger.capsule_outbox where plan_id = $plan_id and seq = $seq;

-- name: final_outcomes
select seq from ledger.capsule_outcomes where plan_id = $plan_id and status in ('done', 'failed');

-- name: record_outcome
insert or replace into ledger.capsule_outcomes (
    plan_id, seq, party_id, contact_id, operation, status, message, "at", party_id_created
)
values ($plan_id, $seq, $party_id, $contact_id, $operation, $status, $message, $at, $party_id_created);

-- name: staged_updated_at
-- The parties' updatedAt as the plan saw them: the stamp before this run's writes.
select party_id, updated_at
from staging.capsule_parties
where party_id in (select unnest($party_ids));

-- name: record_capsule_write
-- One row per party. A write that follows this tool's own last write to the party (the ContactID
-- write-back included) with no edit between — the stamp before it is not older than that write's
-- answer — continues that run of writes: it keeps the run's first stamp and adds to its fields.
with previous as (
    select capsule_updated_before, capsule_updated_after, fields
    from ledger.capsule_writes
    where party_id = $party_id
    union all
    select capsule_updated_before, capsule_updated_after, null
    from ledger.capsule_write_backs
    where party_id = $party_id and state = 'written'
),

unbroken as (
    select min(capsule_updated_before) as capsule_updated_before, max(fields) as fields
    from previous
    where
        cast($updated_before as timestamptz) is not null
        and capsule_updated_after >= cast($updated_before as timestamptz)
)

insert or replace into ledger.capsule_writes (
    party_id, contact_id, plan_id, seq, operation, fields, "at", capsule_updated_before, capsule_updated_after
)
select
    $party_id,
    $contact_id,
    $plan_id,
    $seq,
    $operation,
    cast(coalesce(json_merge_patch(u.fields, $fields), $fields) as varchar),
    $at,
    coalesce(u.capsule_updated_before, cast($updated_before as timestamptz)),
    cast($updated_after as timestamptz)
from unbroken as u;

-- name: insert_base
-- A contact this tool never wrote to Xero gets its base row: every compared field as the plan saw it
-- (the pulled fields as Xero holds them).
insert into ledger.written_contacts (
    contact_id, party_id, plan_id, written_at, contact_status, contact_number, name, first_name, last_name,
    email_address, tax_number, website, phone_default, phone_mobile, phone_fax, street_address,
    postal_address, contact_persons, contact_groups
)
select
    lower($contact_id),
    $party_id,
    $plan_id,
    $at,
    coalesce(json_extract_string($base, '$.contact_status'), 'ACTIVE'),
    json_extract_string($base, '$.contact_number'),
    json_extract_string($base, '$.name'),
    json_extract_string($base, '$.first_name'),
    json_extract_string($base, '$.last_name'),
    json_extract_string($base, '$.email_address'),
    json_extract_string($base, '$.tax_number'),
    json_extract_string($base, '$.website'),
    json_extract_string($base, '$.phone_default'),
    json_extract_string($base, '$.phone_mobile'),
    json_extract_string($base, '$.phone_fax'),
    json_extract_string($base, '$.street_address'),
    json_extract_string($base, '$.postal_address'),
    json_extract_string($base, '$.contact_persons'),
    json_extract_string($base, '$.contact_groups')
where not exists (select 1 from ledger.written_contacts where contact_id = lower($contact_id));

-- name: set_pulled_fields
-- The pulled fields now hold in Capsule what Xero holds: the next diff sees D = C = B for them.
update ledger.written_contacts set
    name = case when list_contains($fields, 'name') then json_extract_string($after, '$.name') else name end,
    first_name = case
        when list_contains($fields, 'first_name') then json_extract_string($after, '$.first_name') else first_name
    end,
    last_name = case
        when list_contains($fields, 'last_name') then json_extract_string($after, '$.last_name') else last_name
    end,
    email_address = case
        when list_contains($fields, 'email_address') then json_extract_string($after, '$.email_address')
        else email_address
    end,
    tax_number = case
        when list_contains($fields, 'tax_number') then json_extract_string($after, '$.tax_number') else tax_number
    end,
    website = case when list_contains($fields, 'website') then json_extract_string($after, '$.website') else website end,
    phone_default = case
        when list_contains($fields, 'phone_default') then json_extract_string($after, '$.phone_default')
        else phone_default
    end,
    phone_mobile = case
        when list_contains($fields, 'phone_mobile') then json_extract_string($after, '$.phone_mobile')
        else phone_mobile
    end,
    phone_fax = case
        when list_contains($fields, 'phone_fax') then json_extract_string($after, '$.phone_fax') else phone_fax
    end,
    street_address = case
        when list_contains($fields, 'street_address') then json_extract_string($after, '$.street_address')
        else street_address
    end,
    postal_address = case
        when list_contains($fields, 'postal_address') then json_extract_string($after, '$.postal_address')
        else postal_address
    end
where contact_id = lower($contact_id);

-- name: capsule_refusals
-- The Capsule error queue: writes whose latest outcome is a refusal (with Capsule's message). A plan
-- leaves the same write out while it asks the very same thing (plans/sql/capsule_held_back.sql).
with latest as (
    select
        o.*,
        row_number() over (partition by lower(o.contact_id), o.operation order by o."at" desc) as position
    from ledger.capsule_outcomes as o
)

select party_id, contact_id, operation, message, "at"
from latest
where position = 1 and status = 'failed'
order by "at" desc
limit $limit;

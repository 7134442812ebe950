-- The ContactID write-back's statements (reverse_etl/apply/write_back.py; the table:
-- reverse_etl/ledger/sql/capsule_write_backs.sql).
--
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

-- The group step's statements (reverse_etl/apply/groups.py; the tables:
-- reverse_etl/ledger/sql/group_outbox.sql, written_contacts.sql).
--
-- name: groups_sending
insert or replace into ledger.group_outbox (contact_id, party_id, plan_id, target, started_at)
select
    unnest(cast($contact_id as varchar[])),
    unnest(cast($party_id as bigint[])),
    unnest(cast($plan_id as bigint[])),
    unnest(cast($target as varchar[])),
    $at;

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

-- name: groups_done
delete from ledger.group_outbox
where contact_id in (select unnest(cast($contact_id as varchar[])));

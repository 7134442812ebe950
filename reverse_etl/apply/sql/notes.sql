-- The History-note step's statements (reverse_etl/apply/notes.py; the tables:
-- reverse_etl/ledger/sql/note_outbox.sql, history_notes.sql).
--
-- name: notes_to_add
select n.party_id, lower(n.contact_id) as contact_id, n.note_hash, n.item_keys, n.note
from ledger.plan_notes as n
where
    n.plan_id = $plan_id
    and not exists (select 1 from ledger.history_notes as h where h.note_hash = n.note_hash)
order by n.party_id;

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

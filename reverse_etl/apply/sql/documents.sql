-- The billing documents' outbox and outcomes (ledger.document_outbox, ledger.document_outcomes;
-- reverse_etl/apply/documents.py). Named statements.
--
-- name: open_outbox
select o.*, d.opportunity_id
from ledger.document_outbox as o
left join ledger.plan_documents as d on d.plan_id = o.plan_id and d.seq = o.seq
order by o.attempted_at;

-- name: insert_outbox
insert or replace into ledger.document_outbox (
    reference, plan_id, seq, kind, contact_id, generation, idempotency_key, body, attempted_at
)
values ($reference, $plan_id, $seq, $kind, $contact_id, $generation, $idempotency_key, $body, $attempted_at);

-- name: delete_outbox
delete from ledger.document_outbox
where reference = $reference;

-- name: record_outcome
insert or replace into ledger.document_outcomes (
    plan_id, seq, reference, kind, opportunity_id, status, document_id, document_number, url, message,
    inputs_hash, "at", history_noted, capsule_field
)
values (
    $plan_id, $seq, $reference, $kind, $opportunity_id, $status, $document_id, $document_number, $url,
    $message, $inputs_hash, $at, false, null
);

-- name: noted
update ledger.document_outcomes
set history_noted = true
where plan_id = $plan_id and seq = $seq;

-- name: field_written
update ledger.document_outcomes
set capsule_field = $capsule_field
where plan_id = $plan_id and seq = $seq;

-- name: settled
-- A plan's documents whose outcome is final (done, exists or failed): not sent again.
select seq
from ledger.document_outcomes
where plan_id = $plan_id and status in ('done', 'exists', 'failed');

-- name: in_outbox
select reference
from ledger.document_outbox;

-- name: earlier_attempts
select count(*) as attempts
from ledger.document_outcomes
where reference = $reference;

-- name: unfinished_around
-- Documents made whose History note or Capsule field is still to do (a run stopped between them).
select o.plan_id, o.seq, o.reference, o.kind, o.opportunity_id, o.status, o.document_id, o.document_number,
    o.url, o.history_noted, d.opportunity_name
from ledger.document_outcomes as o
left join ledger.plan_documents as d on d.plan_id = o.plan_id and d.seq = o.seq
where o.status in ('done', 'exists') and (
    (o.status = 'done' and not o.history_noted) or o.capsule_field is null or o.capsule_field = 'pending'
)
order by o.plan_id, o.seq;

-- name: written_contact
-- The ContactID this tool wrote for a party (a contact created earlier in the same run).
select contact_id
from ledger.written_contacts
where party_id = $party_id and contact_status = 'ACTIVE'
order by written_at desc
limit 1;

-- name: plan_document
select *
from ledger.plan_documents
where plan_id = $plan_id and seq = $seq;

-- name: made_by_plan
-- The DRAFT documents a plan made (undo leaves them: the tool never deletes a document).
select kind, reference, document_number, url
from ledger.document_outcomes
where plan_id = $plan_id and status = 'done'
order by seq;

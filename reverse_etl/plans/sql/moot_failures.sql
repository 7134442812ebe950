-- Error-queue entries of parties a new plan's draft wants nothing more from (no write, no note): the
-- record was fixed so nothing needs sending, the party left the sync or went to review. Nothing is
-- left for Xero to refuse, so nobody is asked to act on it.
delete from ledger.error_queue as q
where
    q.party_id not in (select party_id from plan_draft_operations)
    and q.party_id not in (select party_id from plan_draft_notes);

delete from ledger.error_queue_inputs
where party_id not in (select party_id from ledger.error_queue)

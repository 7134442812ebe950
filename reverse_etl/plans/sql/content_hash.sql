-- One hash of everything a plan would do, under the rules it was made with: two plans with the same
-- hash send the same fields to the same contacts, add the same notes and write the same ContactIDs
-- back to Capsule, and make the same Capsule writes. Reads the draft of a new plan (temporary tables
-- plan_draft_operations, plan_draft_notes and plan_draft_capsule_operations).
-- Parameters: $rules_fingerprint, $write_backs (party:ContactID, sorted, joined).
select sha256(
    $rules_fingerprint
    || chr(10) || coalesce((select string_agg(to_json(o)::varchar, chr(10) order by o.seq) from plan_draft_operations as o), '')
    -- Nothing when there are no Capsule writes: a one-way plan hashes as it always did.
    || coalesce(chr(10) || (select string_agg(to_json(k)::varchar, chr(10) order by k.seq) from plan_draft_capsule_operations as k), '')
    || chr(10) || coalesce((select string_agg(n.note_hash, ',' order by n.note_hash) from plan_draft_notes as n), '')
    || case when $write_backs = '' then '' else chr(10) || $write_backs end
) as content_hash

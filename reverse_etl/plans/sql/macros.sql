-- Macros over stored plans, defined per connection (temporary: they work on a read-only one too).
-- Run by reverse_etl/plans/store.py: define_macros.
--
-- What an operation asks of Xero, as one hash: the same hash means Xero would be asked the very same
-- thing (the same fields, values and contact, against the same Xero values, with the same expected
-- refusal). The error queue keeps the hash of what Xero refused; a plan leaves that party out while
-- the reconcile still wants exactly that, and sends it again once it changes (reverse_etl/apply/error_queue.py).
create or replace temp macro cx_operation_inputs(
    operation, contact_id, contact_number, changed_fields, after, before, expect_refusal
) as md5(to_json(struct_pack(
    operation := operation,
    contact_id := lower(contact_id),
    contact_number := contact_number,
    changed_fields := changed_fields,
    after := cast(after as varchar),
    before := cast(before as varchar),
    expect_refusal := coalesce(expect_refusal, false)
))::varchar);

-- Capsule writes of a new plan's draft (temp table plan_draft_capsule_operations) that Capsule refused
-- before (the latest outcome of the same write to the same contact is `failed`, ledger.capsule_outcomes)
-- and that ask the very same thing again: left out of the plan until the record changes, so a refusal
-- no retry can change is not sent again every run (the Xero side's error queue does the same,
-- held_back.sql). No parameters.
with outcomes as (
    select
        k.contact_id,
        k.operation,
        cast(k.after as varchar) as after,
        o.status,
        o.message,
        row_number() over (partition by lower(k.contact_id), k.operation order by o."at" desc) as latest
    from ledger.capsule_outcomes as o
    inner join ledger.plan_capsule_operations as k on k.plan_id = o.plan_id and k.seq = o.seq
)

select d.seq, d.party_id, d.contact_id, d.operation, r.message
from plan_draft_capsule_operations as d
inner join outcomes as r
    on r.latest = 1
    and r.status = 'failed'
    and lower(r.contact_id) = lower(d.contact_id)
    and r.operation = d.operation
    and r.after = cast(d.after as varchar)
order by d.seq

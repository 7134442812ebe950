-- In-scope Capsule parties no Xero contact fits by any match rule: the sync creates them, unless a
-- broken rule holds the party back (its quarantine rules are listed).
with quarantined as (
    select
        cast(record_id as bigint) as party_id,
        string_agg(distinct rule, ', ' order by rule) as quarantined_rules
    from staging.quarantine
    where source = 'capsule'
    group by record_id
),

planned as (
    select party_id, string_agg(distinct operation, ', ' order by operation) as planned_operation
    from reconcile.contact_operations
    where party_id is not null
    group by party_id
)

select
    m.party_id,
    m.party_type,
    m.display_name as name,
    m.stale_cross_reference,
    pl.planned_operation,
    q.quarantined_rules
from reconcile.contact_matches as m
inner join reconcile.sync_scope as s on s.party_id = m.party_id
left join planned as pl on pl.party_id = m.party_id
left join quarantined as q on q.party_id = m.party_id
where m.outcome = 'new' and s.in_scope
order by m.party_id

-- Quarantined values by rule and field: how many records break each rule, what it costs the sync,
-- and a few record ids to start fixing from.
select
    source,
    rule,
    field,
    any_value(effect) as effect,
    count(distinct record_id) as records,
    count(*) as findings,
    array_to_string(list(distinct record_id order by record_id)[1:5], ', ') as sample_record_ids
from staging.quarantine
group by source, rule, field
order by records desc, source, rule, field

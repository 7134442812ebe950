-- The Capsule custom fields money.capsule_fields turns on (docs/money-in-capsule.md), one line each:
-- whether Capsule has a party field of that name the tool can write, what is wrong when it cannot, and
-- the exact definition to create (Capsule Settings > Custom Fields > People & Organisations), and how
-- many linked parties the next plan gives a new value. Empty when no money field is turned on.
with pending as (
    select field_name, count(*) as parties
    from (select unnest(changed_fields) as field_name from reconcile.capsule_money_updates)
    group by field_name
)

select
    d.money_key as rules_key,
    d.field_name as capsule_field,
    d.wanted_type as needs_type,
    d.state,
    d.definition_id,
    d.definition_type,
    d.capture_rule as applies_only_to,
    d.problem,
    d.definition_to_create,
    coalesce(p.parties, 0) as parties_to_update
from reconcile.capsule_money_definitions as d
left join pending as p on p.field_name = d.field_name
order by d.position

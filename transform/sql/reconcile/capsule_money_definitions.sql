-- The Capsule custom fields the rules file's money.capsule_fields turns on, one row each, with the party
-- field definition Capsule has by that name (raw.capsule_party_field_definitions, read through the
-- temporary view money_field_definitions: empty when the account has none) and whether the tool can
-- write it (docs/money-in-capsule.md). A field is never skipped in silence: one that is missing, of a
-- type that cannot hold the value, or limited to one kind of party is `state` <> 'ok', with `problem`
-- in words and `definition_to_create` saying exactly what to make (reports/money_fields.sql, the plan
-- and `capsule-xero status` show it).
-- Names compare as Capsule matches them: trimmed, without regard to case; a name defined twice keeps
-- the definition with the lowest id.
-- Parameters: $money_field_keys, $money_field_names, $money_field_types (parallel lists; type is number,
-- text or date: transform/rules_sql.py money_field_params).
with configured as (
    select
        unnest($money_field_keys::varchar[]) as money_key,
        unnest($money_field_names::varchar[]) as field_name,
        unnest($money_field_types::varchar[]) as wanted_type,
        unnest(range(len($money_field_keys::varchar[]))) as position
),

definitions as (
    select
        lower(trim(name)) as folded,
        min(id) as definition_id,
        arg_min(type, id) as definition_type,
        arg_min(capture_rule, id) as capture_rule
    from money_field_definitions
    where name is not null
    group by lower(trim(name))
),

judged as (
    select
        c.money_key,
        c.field_name,
        c.wanted_type,
        c.position,
        d.definition_id,
        d.definition_type,
        d.capture_rule,
        case
            when d.definition_id is null then 'missing'
            -- A text field takes any value as written; a number or date field only its own kind.
            when d.definition_type not in (c.wanted_type, 'text') then 'wrong_type'
            when d.capture_rule is not null then 'one_kind'
            else 'ok'
        end as state
    from configured as c
    left join definitions as d on d.folded = lower(trim(c.field_name))
)

select
    money_key,
    field_name,
    wanted_type,
    position,
    definition_id,
    definition_type,
    capture_rule,
    state,
    -- Written where the definition takes the value: every party when ok, one kind of party when the
    -- definition is limited to it (the rest are reported).
    state in ('ok', 'one_kind') as writable,
    case state
        when 'missing' then 'Capsule has no party field named ' || field_name
        when 'wrong_type' then 'the Capsule field ' || field_name || ' is a ' || definition_type
            || ' field, which cannot hold a ' || wanted_type || ': nothing is written to it'
        when 'one_kind' then 'the Capsule field ' || field_name || ' applies only to ' || capture_rule
            || 's: the other parties'' values are not written'
    end as problem,
    case
        when state <> 'ok' then 'name: ' || field_name || '; type: ' || wanted_type
            || '; applies to: People & Organisations'
    end as definition_to_create
from judged
order by position

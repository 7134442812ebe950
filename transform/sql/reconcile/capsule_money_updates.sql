-- The money fields to write to Capsule (issue 14, part 3; docs/money-in-capsule.md): one `money`
-- operation per linked party whose Capsule values differ from reconcile.capsule_money_fields, carrying
-- only the fields that differ. Its columns are those of reconcile.capsule_operations, which unions it
-- with the other Capsule writes, so it goes through the same plan, outbox, writer, read-back and
-- outcomes, paced in Capsule's hourly budget, whatever sync.direction says.
-- changed_fields: the Capsule field names; after: {field name: value to write, null = clear it};
-- before: {field name: Capsule's value now}; row_ids: {field name: definition id} (the writer sets a
-- value by its definition, docs/api-facts.md#capsule-writing).
--
-- Compared as Capsule stores them (docs/api-facts.md#capsule-custom-fields-and-tags: a number field comes
-- back as a string): amounts as decimals (so "1200.5", "1200.50" and 1200.5 are equal), dates as dates,
-- text trimmed. An amount of zero is written as an empty field (null), and an empty field reads as
-- zero: a party that owes nothing shows nothing rather than 0.00, and the first sync writes nothing to
-- the many parties with no money at all (each write is one call of Capsule's 4,000 an hour).
-- Reads the party's values through the temporary view money_party_fields (raw.capsule_parties__fields,
-- empty when no party has a custom field yet). No parameters.
with wanted as (
    select
        f.party_id,
        f.party_type,
        f.display_name,
        f.contact_id,
        d.money_key,
        d.field_name,
        d.wanted_type,
        d.definition_id,
        d.position as position_in_rules,
        case d.money_key
            when 'invoiced_12_months' then cast(nullif(f.invoiced_12_months, 0) as varchar)
            when 'outstanding' then cast(nullif(f.outstanding, 0) as varchar)
            when 'overdue' then cast(nullif(f.overdue, 0) as varchar)
            when 'last_invoice' then f.last_invoice
            when 'last_payment_date' then strftime(f.last_payment_date, '%Y-%m-%d')
        end as value
    from reconcile.capsule_money_fields as f
    inner join reconcile.capsule_money_definitions as d on d.writable and (d.capture_rule is null or d.capture_rule = f.party_type)
),

current_values as (
    select
        p.id as party_id,
        lower(trim(v.definition__name)) as folded,
        arg_min(v.value, v._dlt_list_idx) as value
    from raw.capsule_parties as p
    inner join money_party_fields as v on v._dlt_parent_id = p._dlt_id
    where v.definition__name is not null
    group by p.id, lower(trim(v.definition__name))
),

compared as (
    select
        w.*,
        c.value as current_value,
        case w.wanted_type
            when 'number' then
                cast(w.value as decimal(38, 10))
                is distinct from nullif(try_cast(replace(trim(c.value), ',', '') as decimal(38, 10)), 0)
                -- A value that is not a number at all is replaced.
                or (nullif(trim(c.value), '') is not null and try_cast(replace(trim(c.value), ',', '') as decimal(38, 10)) is null)
            when 'date' then
                try_cast(w.value as date) is distinct from try_cast(trim(c.value) as date)
                or (nullif(trim(c.value), '') is not null and try_cast(trim(c.value) as date) is null)
            else nullif(trim(w.value), '') is distinct from nullif(trim(c.value), '')
        end as differs
    from wanted as w
    left join current_values as c on c.party_id = w.party_id and c.folded = lower(trim(w.field_name))
)

select
    'money' as operation,
    party_id,
    contact_id,
    party_type,
    list(field_name order by position_in_rules) as changed_fields,
    cast(to_json(map_from_entries(list((field_name, current_value) order by position_in_rules))) as varchar)
        as before,
    cast(to_json(map_from_entries(list((field_name, value) order by position_in_rules))) as varchar) as after,
    cast(to_json(map_from_entries(list((field_name, definition_id) order by position_in_rules))) as varchar)
        as row_ids,
    cast(null as varchar) as tag_name,
    cast(null as bigint) as tag_id,
    cast(null as varchar) as base,
    'Xero''s money for ' || any_value(display_name) || ' (Xero contact ' || contact_id || ')' as reason
from compared
where differs
group by party_id, contact_id, party_type

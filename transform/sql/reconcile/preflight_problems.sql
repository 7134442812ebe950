-- Every write Xero would refuse, found before anything is sent
-- (docs/api-facts.md#xero-writing-contacts, docs/api-facts.md#xero-contact-fields-and-limits,
-- docs/api-facts.md#xero-archiving-and-restoring), and how the plan settles it: one row per problem of
-- a planned create, update or restore. Names and ContactNumbers compare trimmed and case-insensitively,
-- as Xero's collation does (the stand-in's unique_key).
--   name taken (Name is unique among ACTIVE contacts, case-insensitively; a restore needs it free too)
--     → the name_collision policy: suffix (the name ∥ " (ContactNumber)"), link (settled earlier, in
--     contact_targets.sql: the create became an update of that contact) or review;
--   ContactNumber taken (unique among ALL contacts, archived included) → review; on an existing
--     contact whose number only an ARCHIVED contact holds (the party's old contact, merged into this
--     one in Xero or left behind) → not sent: the contact keeps its own number, the ContactID links it;
--   a value over Xero's length → review for Name and ContactNumber (a contact cannot go without
--     them, and cutting a name silently would make it another name), otherwise the field is not sent;
--   a Name with < or >, leading, trailing or repeated spaces, or left empty → review; a control
--     character → review for Name and ContactNumber, otherwise the field is not sent; an e-mail Xero
--     would refuse (the contact's or a person's) or a country that is not letters → not sent;
--   more than five people → a note: the desired side already sends the first five.
-- Parameters: $name_collision.
with planned as (
    select *
    from reconcile.operation_drafts
    where operation in ('create', 'update', 'restore')
),

active_names as (
    select contact_id, lower(trim(name)) as name_key
    from reconcile.current_contacts
    where contact_status = 'ACTIVE' and name is not null
),

claims as (
    select
        party_id,
        contact_id,
        operation,
        resulting_name,
        lower(trim(resulting_name)) as name_key,
        row_number() over (partition by lower(trim(resulting_name)) order by party_id) as claim_rank
    from planned
    where claims_name and resulting_name is not null
),

active_hits as (
    select c.party_id, count(*) as hits, min(a.contact_id) as taken_by
    from claims as c
    inner join active_names as a on a.name_key = c.name_key and a.contact_id is distinct from c.contact_id
    group by c.party_id
),

name_problems as (
    select
        c.party_id,
        c.contact_id,
        c.operation,
        'name' as field,
        case when h.hits > 0 then 'name_taken' else 'name_planned_twice' end as problem,
        c.resulting_name as value,
        case when $name_collision = 'suffix' then 'suffix' else 'review' end as settlement,
        case when $name_collision = 'suffix' then t.suffixed_name end as settled_value,
        case
            when h.hits > 0
                then 'Name "' || c.resulting_name || '" is taken by the active Xero contact ' || h.taken_by
            else 'Name "' || c.resulting_name || '" is planned for another party too (the lower party id keeps it)'
        end
        || case
            when $name_collision = 'suffix' then ': sent as "' || t.suffixed_name || '"'
            when $name_collision = 'link' then ': no single contact to link to, a person decides'
            else ': a person decides (name_collision = review)'
        end as detail
    from claims as c
    inner join reconcile.contact_targets as t on t.party_id = c.party_id
    left join active_hits as h on h.party_id = c.party_id
    where h.hits > 0 or c.claim_rank > 1
),

-- A suffixed name is checked again: someone may already use exactly that name.
final_names as (
    select c.party_id, c.name_key
    from claims as c
    where not exists (select 1 from name_problems as p where p.party_id = c.party_id)
    union all
    select party_id, lower(trim(settled_value))
    from name_problems
    where settlement = 'suffix'
),

suffix_problems as (
    select
        p.party_id,
        p.contact_id,
        p.operation,
        'name' as field,
        'suffixed_name_taken' as problem,
        p.settled_value as value,
        'review' as settlement,
        null as settled_value,
        'the suffixed Name "' || p.settled_value || '" is taken as well: a person decides' as detail
    from name_problems as p
    where
        p.settlement = 'suffix'
        and (
            exists (
                select 1
                from active_names as a
                where a.name_key = lower(trim(p.settled_value)) and a.contact_id is distinct from p.contact_id
            )
            or exists (
                select 1
                from final_names as f
                where f.name_key = lower(trim(p.settled_value)) and f.party_id <> p.party_id
            )
        )
),

numbers as (
    select
        party_id,
        contact_id,
        operation,
        contact_number,
        count(*) over (partition by lower(contact_number)) as planned_times
    from planned
    where list_contains(changed_fields, 'contact_number')
),

number_holders as (
    select
        n.party_id,
        min(c.contact_id) as taken_by,
        bool_and(c.contact_status = 'ARCHIVED') as only_archived
    from numbers as n
    inner join reconcile.current_contacts as c
        on lower(c.contact_number) = lower(n.contact_number) and c.contact_id is distinct from n.contact_id
    group by n.party_id
),

number_problems as (
    select
        n.party_id,
        n.contact_id,
        n.operation,
        'contact_number' as field,
        'contact_number_taken' as problem,
        n.contact_number as value,
        case when s.keeps_own_number then 'not_sent' else 'review' end as settlement,
        null as settled_value,
        'ContactNumber ' || n.contact_number || ' is '
        || coalesce('already on the Xero contact ' || h.taken_by, 'planned for another party too')
        || ' (unique among all contacts, archived included)'
        || case
            when s.keeps_own_number
                then ', which is archived: not sent; the contact keeps its own number and its ContactID links'
                || ' the party (a person may clear the number on the archived contact)'
            else ': a person decides'
        end as detail
    from numbers as n
    left join number_holders as h on h.party_id = n.party_id
    -- A contact merged away in Xero keeps its ContactNumber; its survivor cannot take the number
    -- while it does. An existing contact can live without ours (a new one cannot: review).
    cross join lateral (
        select n.operation <> 'create' and n.planned_times = 1 and coalesce(h.only_archived, false)
            as keeps_own_number
    ) as s
    where h.taken_by is not null or n.planned_times > 1
),

sent_values as (
    select party_id, contact_id, operation, changed_fields, field, value
    from planned unpivot (
        value for field in (
            contact_number, name, first_name, last_name, email_address, tax_number, website,
            phone_default, phone_mobile, phone_fax, street_address, postal_address, contact_persons
        )
    )
),

too_long as (
    select
        party_id,
        contact_id,
        operation,
        field,
        value,
        case
            when field in ('street_address', 'postal_address') then
                coalesce(len(json_extract_string(value, '$.lines[*]')) > 4, false)
                or coalesce(
                    list_max(list_transform(json_extract_string(value, '$.lines[*]'), lambda l: length(l))) > 500,
                    false
                )
                or coalesce(length(json_extract_string(value, '$.city')) > 255, false)
                or coalesce(length(json_extract_string(value, '$.region')) > 255, false)
                or coalesce(length(json_extract_string(value, '$.postal_code')) > 50, false)
                or coalesce(length(json_extract_string(value, '$.country')) > 50, false)
            when field = 'contact_persons' then
                coalesce(json_array_length(value) > 5, false)
                or coalesce(
                    list_max(
                        list_transform(
                            list_concat(
                                json_extract_string(value, '$[*].first_name'),
                                json_extract_string(value, '$[*].last_name'),
                                json_extract_string(value, '$[*].email_address')
                            ),
                            lambda v: length(v)
                        )
                    ) > 255,
                    false
                )
            when field in ('contact_number', 'tax_number', 'phone_default', 'phone_mobile', 'phone_fax')
                then length(value) > 50
            else length(value) > 255
        end as over_limit
    from sent_values
    where list_contains(changed_fields, field)
),

length_problems as (
    select
        party_id,
        contact_id,
        operation,
        field,
        'too_long' as problem,
        value,
        case when field in ('name', 'contact_number') then 'review' else 'not_sent' end as settlement,
        null as settled_value,
        case
            when field in ('street_address', 'postal_address')
                then field || ' is over Xero''s limits (at most 4 lines of 500 characters, city and region 255, '
                || 'postcode and country 50): not sent'
            when field = 'contact_persons'
                then 'contact_persons holds more than five people or a value over 255 characters: not sent'
            else field || ' is ' || length(value) || ' characters, over Xero''s '
                || case
                    when field in ('contact_number', 'tax_number') or field like 'phone_%' then '50'
                    else '255'
                end
                || case when field in ('name', 'contact_number') then ': a person decides' else ': not sent' end
        end as detail
    from too_long
    where over_limit
),

-- Each text a write carries, one row per part (a scalar field is its own part; an address and the
-- contact persons have several): what the character and format rules below read. Unpacking every
-- address and person of a first migration costs more than the rest of the preflight, so a JSON value
-- is unpacked whole only when its text holds an escape or a C1 control (to_json spells C0 controls
-- as \u00XX); the country and the persons' e-mails, which need no control to be wrong, are read on
-- their own.
sent_parts as (
    select party_id, contact_id, operation, field, field as part, value as text
    from sent_values
    where list_contains(changed_fields, field) and field not in ('street_address', 'postal_address', 'contact_persons')
    union all
    select party_id, contact_id, operation, field, 'country', json_extract_string(value, '$.country')
    from sent_values
    where list_contains(changed_fields, field) and field in ('street_address', 'postal_address')
    union all
    select party_id, contact_id, operation, field, 'email_address', unnest(emails)
    from (
        select
            *,
            list_filter(
                json_extract_string(value, '$[*].email_address'), lambda e: cx_email(e) is distinct from e
            ) as emails
        from sent_values
        where list_contains(changed_fields, field) and field = 'contact_persons'
    )
    union all
    select p.party_id, p.contact_id, p.operation, p.field, part.name, part.text
    from (
        select
            *,
            case
                when field = 'contact_persons' then
                    list_transform(json_extract_string(value, '$[*].first_name'), lambda v: {'name': 'first_name', 'text': v})
                    || list_transform(json_extract_string(value, '$[*].last_name'), lambda v: {'name': 'last_name', 'text': v})
                else
                    [
                        {'name': 'city', 'text': json_extract_string(value, '$.city')},
                        {'name': 'region', 'text': json_extract_string(value, '$.region')},
                        {'name': 'postal_code', 'text': json_extract_string(value, '$.postal_code')}
                    ]
                    || list_transform(json_extract_string(value, '$.lines[*]'), lambda line: {'name': 'line', 'text': line})
            end as parts
        from sent_values
        where
            list_contains(changed_fields, field)
            and field in ('street_address', 'postal_address', 'contact_persons')
            and regexp_matches(value, '[\\\x7f-\x9f]')
    ) as p, unnest(p.parts) as t(part)
),

-- Rules Xero states (docs/api-facts.md#xero-errors, docs/api-facts.md#xero-contact-fields-and-limits;
-- Xero's OpenAPI xero_accounting.yaml Contact, Address), and controls, on which it states nothing: the
-- stricter reading refuses them (the stand-in does). Staging cleans every text (cx_text, cx_name), so
-- these catch what the rules file's transforms or a model bug let through.
character_problems as (
    select
        party_id,
        contact_id,
        operation,
        field,
        case
            when part = 'name' and regexp_matches(text, '[<>]') then 'name_characters'
            when part = 'name' and (text <> trim(text) or contains(text, '  ')) then 'name_spaces'
            when regexp_matches(text, '[\x00-\x1f\x7f-\x9f]') then 'control_characters'
            when part = 'email_address' and cx_email(text) is distinct from text then 'email_invalid'
            when part = 'country' and not regexp_full_match(text, '[A-Za-z]+(?: [A-Za-z]+)*') then 'country_not_letters'
        end as problem,
        any_value(text) as value
    from sent_parts
    where text is not null
    group by all
    having problem is not null
),

format_problems as (
    select
        party_id,
        contact_id,
        operation,
        field,
        problem,
        value,
        case when field in ('name', 'contact_number') then 'review' else 'not_sent' end as settlement,
        null as settled_value,
        case problem
            when 'name_characters' then 'Name "' || value || '" has < or >, which Xero refuses in a contact name'
            when 'name_spaces' then 'Name "' || value || '" has leading, trailing or repeated spaces, which Xero refuses'
            when 'control_characters' then field || ' holds a control character (NUL, ESC ...)'
            when 'email_invalid' then field || ' has an e-mail address Xero would refuse: "' || value || '"'
            when 'country_not_letters'
                then field || ' has the country "' || value || '": Xero takes letters only (A-Z, a-z)'
        end
        || case when field in ('name', 'contact_number') then ': a person decides' else ': not sent' end as detail
    from character_problems
),

-- A contact cannot go without a Name ("Contact Name cannot be empty": docs/api-facts.md#xero-errors).
empty_names as (
    select
        party_id,
        contact_id,
        operation,
        'name' as field,
        'name_empty' as problem,
        null as value,
        'review' as settlement,
        null as settled_value,
        'Name is empty after the rules file''s transforms, and Xero refuses a contact without one: '
        || 'a person decides' as detail
    from planned
    where (operation = 'create' or list_contains(changed_fields, 'name')) and name is null
),

link_notes as (
    select
        o.party_id,
        o.contact_id,
        o.operation,
        'name' as field,
        'name_taken' as problem,
        o.resulting_name as value,
        'link' as settlement,
        o.contact_id as settled_value,
        'Name is taken by the active Xero contact ' || o.contact_id || ', which has no ContactNumber '
        || 'of ours: that contact is updated instead of creating a duplicate' as detail
    from reconcile.operation_drafts as o
    inner join reconcile.contact_targets as t on t.party_id = o.party_id
    where t.target_rule = 'name_link'
),

people_notes as (
    select
        party_id,
        contact_id,
        operation,
        'contact_persons' as field,
        'more_than_five_people' as problem,
        cast(people_total as varchar) as value,
        'note' as settlement,
        null as settled_value,
        'the organisation has ' || people_total || ' people; Xero keeps at most five ContactPersons, '
        || 'so the first five by Capsule id are sent' as detail
    from reconcile.operation_drafts
    where people_total > 5 and operation in ('create', 'update', 'restore', 'noop')
)

select * from name_problems
union all by name
select * from suffix_problems
union all by name
select * from number_problems
union all by name
select * from length_problems
union all by name
select * from format_problems
union all by name
select * from empty_names
union all by name
select * from link_notes
union all by name
select * from people_notes

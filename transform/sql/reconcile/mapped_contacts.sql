-- The Xero contact each Capsule party should become (docs/mapping.md#field-by-field), before the rules
-- file's transforms. One row per party that is a contact of its own: in scope, not deleted, an
-- organisation or (unless $people_as_contacts) a person without one, and with a name Xero can take. The
-- compared fields are in the canonical form of README.md, built by the same macros
-- (transform/sql/macros.sql) as reconcile.current_contacts.
-- Parameters: $contact_number_prefix ('CAP-'), $people_as_contacts (false), $group_tags
-- (['Customer', 'Supplier', 'Wholesale', 'VIP']), $all_tags_are_groups (false), $owner_groups (true),
-- $owner_group_prefix ('Owner: '), $two_way (false), $archived_tag ('Archived in Xero').
with held_back as (
    -- A party without a usable name cannot be a Xero contact (Name is required, ≤ 255:
    -- docs/api-facts.md#xero-contact-fields-and-limits).
    -- Other quarantined values (ABN, e-mail, phone) are simply not sent: their normalisers give null,
    -- and quarantined_fields below tells the diff that null is "nothing to send", not "emptied".
    select distinct try_cast(record_id as bigint) as party_id
    from staging.quarantine
    where source = 'capsule' and rule in ('name_present', 'name_fits_xero')
),

syncable as materialized (
    -- Keys first (materialised, so the optimiser cannot fold the wide staged row into these joins):
    -- at a million parties the wide row then only probes, never fills a hash table.
    select p.party_id, m.outcome, m.contact_id
    from staging.capsule_parties as p
    inner join reconcile.sync_scope as s on s.party_id = p.party_id and s.in_scope
    left join held_back as h on h.party_id = p.party_id
    left join reconcile.contact_matches as m on m.party_id = p.party_id
    where
        not p.is_deleted
        and (p.party_type = 'organisation' or p.organisation_id is null or $people_as_contacts)
        and h.party_id is null
),

people as (
    -- An organisation's people travel as its ContactPersons, the whole list on every write (Xero
    -- replaces it): the first five live people by ascending party id, so the choice is stable. A person
    -- joining, changing or leaving re-evaluates the organisation (CASES.md synced_org_new_person).
    -- A person the rules put out of scope, or without a usable name, is left out of the list.
    select
        p.organisation_id,
        count(*) filter (where not p.is_deleted) as people_total,
        greatest(max(p.changed_at) filter (where not p.is_deleted), max(p.deleted_at)) as people_changed_at,
        list_transform(
            list_sort(
                list(
                    {'party_id': p.party_id, 'person': cx_contact_person(p.first_name, p.last_name, p.email)}
                ) filter (where not p.is_deleted)
            )[1:5],
            lambda entry: entry.person
        ) as contact_persons,
        -- People whose every e-mail is quarantined: Xero keeps the e-mail it has for them.
        list({'first_name': cx_name(p.first_name), 'last_name': cx_name(p.last_name)}) filter (
            where not p.is_deleted and p.email is null and p.bad_emails > 0
        ) as quarantined_people
    from staging.capsule_parties as p
    left join reconcile.sync_scope as s on s.party_id = p.party_id
    left join held_back as h on h.party_id = p.party_id
    where
        p.party_type = 'person'
        and p.organisation_id is not null
        and coalesce(s.in_scope, true)
        and h.party_id is null
    group by p.organisation_id
),

managed_tags as (
    select
        list_transform($group_tags, lambda tag: lower(trim(tag))) as names,
        -- The tag this tool puts on a party whose contact was archived in Xero (two-way) mirrors
        -- Xero's own state: as a group it would be sent back to the contact it describes.
        case when $two_way then lower(trim($archived_tag)) end as archived_tag
)

select
    c.party_id,
    c.party_type,
    case when k.outcome = 'matched' then k.contact_id end as contact_id,
    k.outcome as match_outcome,
    $contact_number_prefix || cast(c.party_id as varchar) as contact_number,
    cx_name(c.display_name) as name,
    case when c.party_type = 'person' then cx_name(c.first_name) end as first_name,
    case when c.party_type = 'person' then cx_name(c.last_name) end as last_name,
    c.email as email_address,
    c.abn as tax_number,
    c.website,
    c.phone_default,
    c.phone_mobile,
    c.phone_fax,
    cx_address_json(c.street_lines, c.street_city, c.street_region, c.street_postal_code, c.street_country)
        as street_address,
    cx_address_json(c.postal_lines, c.postal_city, c.postal_region, c.postal_postal_code, c.postal_country)
        as postal_address,
    case when c.party_type = 'organisation' then cx_persons_json(p.contact_persons) end as contact_persons,
    cx_groups_json(
        list_filter(
            c.tags,
            lambda tag: ($all_tags_are_groups or list_contains(t.names, lower(trim(tag))))
            and lower(trim(tag)) is distinct from t.archived_tag
        )
        || case
            when $owner_groups and c.owner_name is not null then [$owner_group_prefix || c.owner_name]
            else cast([] as varchar[])
        end
    ) as contact_groups,
    -- The last change anyone but this tool made (staging: changed_at); the ContactID it writes back
    -- to a party, or to one of an organisation's people, is not a Capsule edit.
    case
        when c.party_type = 'organisation' then greatest(c.changed_at, p.people_changed_at)
        else c.changed_at
    end as capsule_updated_at,
    case when c.party_type = 'organisation' then coalesce(p.people_total, 0) end as people_total,
    -- Fields left empty only because their Capsule value is quarantined (README: a bad ABN, e-mail
    -- or phone is "simply not sent"): the diff keeps Xero's value instead of clearing it, while a field
    -- a person emptied in Capsule still clears Xero's (reconcile/contact_diffs.sql).
    list_filter(
        [
            case when c.abn_problem is not null then 'tax_number' end,
            case when c.email is null and c.bad_emails > 0 then 'email_address' end,
            case when c.phone_default is null and c.bad_phones > c.bad_fax_phones then 'phone_default' end,
            case when c.phone_mobile is null and c.bad_phones > c.bad_fax_phones then 'phone_mobile' end,
            case when c.phone_fax is null and c.bad_fax_phones > 0 then 'phone_fax' end
        ],
        lambda field: field is not null
    ) as quarantined_fields,
    case when c.party_type = 'organisation' then coalesce(p.quarantined_people, cast([] as struct(first_name varchar, last_name varchar)[])) end as quarantined_people
from syncable as k
inner join staging.capsule_parties as c on c.party_id = k.party_id
cross join managed_tags as t
left join people as p on p.organisation_id = c.party_id and c.party_type = 'organisation'

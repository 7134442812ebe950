-- One tidy row per Capsule party, normalised for matching (docs/architecture.md#data-flow, step 2,
-- Stage) and carrying the parts the desired Xero contact is built from (reconcile/mapped_contacts.sql).
-- Parameters: $abn_field and $xero_id_field, the names of the Capsule custom fields that hold the
-- ABN and the Xero ContactID (both configurable; defaults "ABN" and "Xero Contact ID").
-- Reads ledger.capsule_write_backs and ledger.capsule_writes (the stage in transform/stages.py creates
-- them when missing): changed_at is updated_at unless this tool's own writes (the ContactID write-back,
-- a pulled field, a tag) were the party's last changes.
-- Each nested value is normalised once (the cx_* normalisers are the costly part at a million
-- parties) and then aggregated by its parent's _dlt_id; the party id is joined on at the end.
with parties as (
    select * from raw.capsule_parties
),

email_rows as (
    select _dlt_parent_id as parent_id, _dlt_list_idx as idx, address, cx_email(address) as email
    from raw.capsule_parties__email_addresses
    where address is not null
),

emails as materialized (
    -- Read twice (the party's own address, and the owner's from the user's party): computed once.
    select
        parent_id,
        arg_min(email, idx) filter (where email is not null) as email,
        count(*) filter (where email is null) as bad_emails,
        arg_min(address, idx) filter (where email is null) as first_bad_email
    from email_rows
    group by parent_id
),

phone_rows as (
    select
        _dlt_parent_id as parent_id,
        _dlt_list_idx as idx,
        number,
        lower(trim(type)) as phone_type,
        cx_phone_e164(number) as e164
    from raw.capsule_parties__phone_numbers
    where number is not null
),

phones as (
    -- Xero's phone types (docs/mapping.md#phones; sandbox/generator/CASES.md "The earlier sync's
    -- mapping"): FAX is what Capsule calls Fax; an Australian +614 number is a mobile whatever its
    -- label says (people file mobiles under Work and Home), a foreign number is a mobile when labelled
    -- so; the rest DEFAULT.
    select
        parent_id,
        arg_min(e164, idx) filter (where e164 is not null) as phone_e164,
        arg_min(e164, idx) filter (
            where e164 is not null and phone_type is distinct from 'fax' and e164 not like '+614%'
            and not (phone_type is not distinct from 'mobile' and e164 not like '+61%')
        ) as phone_default,
        arg_min(e164, idx) filter (
            where e164 is not null and phone_type is distinct from 'fax'
            and (e164 like '+614%' or (phone_type is not distinct from 'mobile' and e164 not like '+61%'))
        ) as phone_mobile,
        arg_min(e164, idx) filter (where e164 is not null and phone_type is not distinct from 'fax')
            as phone_fax,
        count(*) filter (where e164 is null) as bad_phones,
        -- Which Xero phone an unreadable number would have filled: a Fax-labelled one the FAX; any
        -- other the DEFAULT or the MOBILE (which of the two depends on the digits that could not be
        -- read), so neither is cleared while it is quarantined (reconcile/mapped_contacts.sql).
        count(*) filter (where e164 is null and phone_type is not distinct from 'fax') as bad_fax_phones,
        arg_min(number, idx) filter (where e164 is null) as first_bad_phone
    from phone_rows
    group by parent_id
),

website_rows as (
    select
        _dlt_parent_id as parent_id,
        _dlt_list_idx as idx,
        -- Capsule's url is the clickable form of what was typed (address); Xero's Website wants a URL.
        coalesce(cx_blank(url), cx_blank(address)) as website,
        cx_website_domain(coalesce(url, address)) as website_domain
    from raw.capsule_parties__websites
    where service = 'URL'
),

websites as (
    select
        parent_id,
        arg_min(website_domain, idx) filter (where website_domain is not null) as website_domain,
        arg_min(website, idx) filter (where website_domain is not null) as website
    from website_rows
    group by parent_id
),

address_rows as (
    select
        _dlt_parent_id as parent_id,
        _dlt_list_idx as idx,
        case
            when type is null or lower(type) in ('office', 'home') then 'street'
            when lower(type) in ('postal', 'billing') then 'postal'
        end as kind,
        {'street': street, 'city': city, 'state': state, 'zip': zip, 'country': country} as typed
    from raw.capsule_parties__addresses
    where
        coalesce(cx_blank(street), cx_blank(city), cx_blank(state), cx_blank(zip), cx_blank(country))
            is not null
),

addresses as (
    -- STREET <- first Office/Home/untyped address, POBOX <- first Postal/Billing (CASES.md mapping);
    -- chosen as typed, normalised below (at most two per party).
    select
        parent_id,
        arg_min(typed, idx) filter (where kind = 'street') as street,
        arg_min(typed, idx) filter (where kind = 'postal') as postal
    from address_rows
    group by parent_id
),

tags as (
    -- In list order; sorting the (index, name) pairs afterwards is cheaper than an ordered aggregate.
    select
        _dlt_parent_id as parent_id,
        list_transform(list_sort(list({'idx': _dlt_list_idx, 'name': cx_text(name)})), lambda tag: tag.name)
            as tags
    from raw.capsule_parties__tags
    where cx_text(name) is not null
    group by _dlt_parent_id
),

field_values as (
    -- A field defined twice on one party (or a definition renamed into another's name): the first wins.
    select
        _dlt_parent_id as parent_id,
        lower(trim(definition__name)) as field_name,
        arg_min(value, _dlt_list_idx) as value
    from raw.capsule_parties__fields
    where definition__name is not null
    group by _dlt_parent_id, lower(trim(definition__name))
),

custom_fields as (
    select parent_id, map_from_entries(list_sort(list((field_name, value)))) as custom_fields
    from field_values
    group by parent_id
),

deletions as (
    select id as party_id, max(deleted_at) as deleted_at
    from raw.capsule_deleted_parties
    group by id
),

own_write_backs as (
    -- This tool's ContactID write-back bumps a party's updatedAt as anyone's edit would
    -- (docs/api-facts.md#capsule-incremental-reads-and-deletions), seconds after a migration wrote
    -- Xero. While Capsule's stamp is still the one Capsule gave that write, and the field still holds
    -- what was written, nobody has changed the party since: its change time is the stamp from before
    -- the write. Otherwise a newest_wins settlement would read the write-back as a Capsule edit newer
    -- than Xero's, and overwrite what Xero had won.
    select party_id, contact_id, capsule_updated_before, capsule_updated_after
    from ledger.capsule_write_backs
    where state = 'written' and capsule_updated_after is not null
),

own_writes as (
    -- The same for this tool's writes of Xero's values to the party (two-way contacts): while Capsule's
    -- stamp is no later than the one Capsule answered the write with, nobody has edited the party since.
    select party_id, capsule_updated_before, capsule_updated_after
    from ledger.capsule_writes
    where capsule_updated_after is not null
),

details as (
    select
        p.id as party_id,
        p.*,
        -- Names as they are matched and sent (cx_name: NFC, no controls, nothing invisible at the
        -- ends, single spaces); one that is empty after that is held back (transform/quarantine.py).
        case
            when p.type = 'organisation' then cx_name(p.name)
            else cx_name(concat_ws(' ', cx_name(p.first_name), cx_name(p.last_name)))
        end as display_name,
        case
            when p.type = 'organisation' then p.name
            else concat_ws(' ', p.first_name, p.last_name)
        end as name_as_typed,
        e.email,
        coalesce(e.bad_emails, 0) as bad_emails,
        e.first_bad_email,
        ph.phone_e164,
        ph.phone_default,
        ph.phone_mobile,
        ph.phone_fax,
        coalesce(ph.bad_phones, 0) as bad_phones,
        coalesce(ph.bad_fax_phones, 0) as bad_fax_phones,
        ph.first_bad_phone,
        w.website_domain,
        w.website,
        a.street,
        a.postal,
        coalesce(t.tags, cast([] as varchar[])) as tags,
        coalesce(f.custom_fields, cast(map() as map(varchar, varchar))) as custom_fields,
        f.custom_fields[lower(trim($abn_field))] as abn_raw,
        cx_blank(f.custom_fields[lower(trim($xero_id_field))]) as xero_contact_id
    from parties as p
    left join emails as e on e.parent_id = p._dlt_id
    left join phones as ph on ph.parent_id = p._dlt_id
    left join websites as w on w.parent_id = p._dlt_id
    left join addresses as a on a.parent_id = p._dlt_id
    left join tags as t on t.parent_id = p._dlt_id
    left join custom_fields as f on f.parent_id = p._dlt_id
),

owners as (
    -- Capsule users have no e-mail of their own: it is on the user's own person party
    -- (GET /users embeds it as party), so the owner's address is that party's first plausible one.
    select u.id as user_id, cx_blank(u.name) as owner_name, e.email as owner_email
    from raw.capsule_users as u
    left join parties as own on own.id = u.party__id
    left join emails as e on e.parent_id = own._dlt_id
),

live as (
    select
        p.party_id,
        p.type as party_type,
        p.display_name,
        p.name_as_typed,
        cx_fold_name(p.display_name) as folded_name,
        cx_name(p.first_name) as first_name,
        cx_name(p.last_name) as last_name,
        p.organisation__id as organisation_id,
        p.email,
        -- The e-mail is canonical already (cx_email): its domain is what follows the one "@".
        split_part(p.email, '@', 2) as email_domain,
        -- An organisation's own domain: its website, else its e-mail's, never a free-mail domain.
        coalesce(cx_company_domain(p.website_domain), cx_company_domain(split_part(p.email, '@', 2)))
            as company_domain,
        p.phone_e164,
        p.abn_raw,
        cx_abn(p.abn_raw) as abn,
        cx_abn_problem(p.abn_raw) as abn_problem,
        p.xero_contact_id,
        p.bad_emails,
        p.first_bad_email,
        p.bad_phones,
        p.bad_fax_phones,
        p.first_bad_phone,
        p.owner__id as owner_id,
        p.created_at,
        p.updated_at,
        -- Peel this tool's own writes off the stamp, latest first: a write-back then a pull, or a pull
        -- then a write-back, both leave the stamp from before the first of them.
        cx_before_own_write(
            cx_before_own_write(
                cx_before_own_write(p.updated_at, cw.capsule_updated_before, cw.capsule_updated_after, true),
                w.capsule_updated_before,
                w.capsule_updated_after,
                lower(p.xero_contact_id) = lower(w.contact_id)
            ),
            cw.capsule_updated_before,
            cw.capsule_updated_after,
            true
        ) as changed_at,
        d.deleted_at,
        d.deleted_at is not null as is_deleted,
        p.tags,
        p.custom_fields,
        o.owner_email,
        coalesce(o.owner_name, cx_blank(p.owner__name)) as owner_name,
        p.website,
        p.phone_default,
        p.phone_mobile,
        p.phone_fax,
        cx_street_lines(p.street.street) as street_lines,
        cx_blank(p.street.city) as street_city,
        cx_region(p.street.state, p.street.country) as street_region,
        cx_blank(p.street.zip) as street_postal_code,
        cx_country(p.street.country) as street_country,
        cx_street_lines(p.postal.street) as postal_lines,
        cx_blank(p.postal.city) as postal_city,
        cx_region(p.postal.state, p.postal.country) as postal_region,
        cx_blank(p.postal.zip) as postal_postal_code,
        cx_country(p.postal.country) as postal_country
    from details as p
    left join owners as o on o.user_id = p.owner__id
    left join deletions as d on d.party_id = p.party_id
    left join own_write_backs as w on w.party_id = p.party_id
    left join own_writes as cw on cw.party_id = p.party_id
)

select * from live
union all by name
-- A party deleted before this tool ever read it exists only as a tombstone (Capsule's
-- /parties/deleted feed); it still needs a row, because its Xero contact may have to be archived.
select d.party_id, d.deleted_at, true as is_deleted
from deletions as d
where not exists (select 1 from live as l where l.party_id = d.party_id)

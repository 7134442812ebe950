-- One tidy row per Capsule party, normalised for matching (DESIGN.md, data flow 2).
-- Parameters: $abn_field and $xero_id_field, the names of the Capsule custom fields that hold the
-- ABN and the Xero ContactID (both configurable; defaults "ABN" and "Xero Contact ID").
with parties as (
    select * from raw.capsule_parties
),

emails as (
    select
        p.id as party_id,
        arg_min(cx_email(e.address), e._dlt_list_idx) filter (where cx_email(e.address) is not null) as email,
        count(*) filter (where e.address is not null and cx_email(e.address) is null) as bad_emails,
        arg_min(e.address, e._dlt_list_idx) filter (where e.address is not null and cx_email(e.address) is null)
            as first_bad_email
    from parties as p
    inner join raw.capsule_parties__email_addresses as e on e._dlt_parent_id = p._dlt_id
    group by p.id
),

phones as (
    select
        p.id as party_id,
        arg_min(cx_phone_e164(n.number), n._dlt_list_idx) filter (where cx_phone_e164(n.number) is not null)
            as phone_e164,
        count(*) filter (where n.number is not null and cx_phone_e164(n.number) is null) as bad_phones,
        arg_min(n.number, n._dlt_list_idx) filter (where n.number is not null and cx_phone_e164(n.number) is null)
            as first_bad_phone
    from parties as p
    inner join raw.capsule_parties__phone_numbers as n on n._dlt_parent_id = p._dlt_id
    group by p.id
),

websites as (
    select
        p.id as party_id,
        arg_min(cx_website_domain(coalesce(w.url, w.address)), w._dlt_list_idx)
            filter (where w.service = 'URL' and cx_website_domain(coalesce(w.url, w.address)) is not null)
            as website_domain
    from parties as p
    inner join raw.capsule_parties__websites as w on w._dlt_parent_id = p._dlt_id
    group by p.id
),

custom_fields as (
    select
        p.id as party_id,
        max(f.value) filter (where lower(f.definition__name) = lower($abn_field)) as abn_raw,
        max(f.value) filter (where lower(f.definition__name) = lower($xero_id_field)) as xero_contact_id
    from parties as p
    inner join raw.capsule_parties__fields as f on f._dlt_parent_id = p._dlt_id
    group by p.id
),

deletions as (
    select id as party_id, max(deleted_at) as deleted_at
    from raw.capsule_deleted_parties
    group by id
),

named as (
    select
        p.*,
        case
            when p.type = 'organisation' then trim(p.name)
            else trim(concat_ws(' ', nullif(trim(p.first_name), ''), nullif(trim(p.last_name), '')))
        end as display_name
    from parties as p
)

select
    p.id as party_id,
    p.type as party_type,
    p.display_name,
    cx_fold_name(p.display_name) as folded_name,
    p.first_name,
    p.last_name,
    p.organisation__id as organisation_id,
    e.email,
    cx_email_domain(e.email) as email_domain,
    -- An organisation's own domain: its website, else its e-mail's, never a free-mail domain.
    coalesce(cx_company_domain(w.website_domain), cx_company_domain(e.email)) as company_domain,
    ph.phone_e164,
    f.abn_raw,
    cx_abn(f.abn_raw) as abn,
    cx_abn_problem(f.abn_raw) as abn_problem,
    nullif(trim(f.xero_contact_id), '') as xero_contact_id,
    coalesce(e.bad_emails, 0) as bad_emails,
    e.first_bad_email,
    coalesce(ph.bad_phones, 0) as bad_phones,
    ph.first_bad_phone,
    p.owner__id as owner_id,
    p.created_at,
    p.updated_at,
    d.deleted_at,
    d.deleted_at is not null as is_deleted
from named as p
left join emails as e on e.party_id = p.id
left join phones as ph on ph.party_id = p.id
left join websites as w on w.party_id = p.id
left join custom_fields as f on f.party_id = p.id
left join deletions as d on d.party_id = p.id

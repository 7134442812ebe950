-- One tidy row per Xero contact (archived included), normalised like the Capsule side and carrying
-- the parts the current contact is compared by (reconcile/current_contacts.sql).
-- Each nested row is normalised once and aggregated by its parent's _dlt_id.
-- Parameter: $contact_number_prefix ('CAP-'), to read which Capsule party a ContactNumber names.
with contacts as (
    select * from raw.xero_contacts
),

phone_rows as (
    -- Xero splits a number into country code, area code and number
    -- (docs/api-facts.md#xero-contact-fields-and-limits); put it back together before parsing. A number
    -- typed whole with its "+" stands on its own.
    select
        _dlt_parent_id as parent_id,
        _dlt_list_idx as idx,
        upper(phone_type) as phone_type,
        cx_phone_e164(
            case
                when starts_with(ltrim(phone_number), '+') then phone_number
                when coalesce(trim(phone_country_code), '') <> ''
                    then '+' || regexp_replace(phone_country_code, '[^0-9]', '', 'g') || ' '
                    || coalesce(phone_area_code, '') || ' ' || phone_number
                else concat_ws(' ', nullif(trim(phone_area_code), ''), phone_number)
            end
        ) as e164
    from raw.xero_contacts__phones
    where coalesce(trim(phone_number), '') <> ''
),

phones as (
    select
        parent_id,
        arg_min(e164, idx) filter (where phone_type = 'DEFAULT' and e164 is not null) as phone_default,
        arg_min(e164, idx) filter (where phone_type = 'MOBILE' and e164 is not null) as phone_mobile,
        arg_min(e164, idx) filter (where phone_type = 'FAX' and e164 is not null) as phone_fax,
        arg_min(e164, idx) filter (where phone_type = 'DDI' and e164 is not null) as phone_ddi,
        arg_min(e164, idx) filter (where e164 is not null) as phone_any
    from phone_rows
    group by parent_id
),

addresses as (
    select
        _dlt_parent_id as parent_id,
        arg_min(
            {
                'lines': cx_address_lines([address_line1, address_line2, address_line3, address_line4]),
                'city': cx_blank(city),
                'region': cx_region(region, country),
                'postal_code': cx_blank(postal_code),
                'country': cx_country(country)
            },
            _dlt_list_idx
        ) filter (where upper(address_type) = 'STREET') as street,
        arg_min(
            {
                'lines': cx_address_lines([address_line1, address_line2, address_line3, address_line4]),
                'city': cx_blank(city),
                'region': cx_region(region, country),
                'postal_code': cx_blank(postal_code),
                'country': cx_country(country)
            },
            _dlt_list_idx
        ) filter (where upper(address_type) = 'POBOX') as postal
    from raw.xero_contacts__addresses
    group by _dlt_parent_id
),

persons as (
    select
        _dlt_parent_id as parent_id,
        list(cx_contact_person(first_name, last_name, cx_email(email_address)) order by _dlt_list_idx)
            as contact_persons
    from raw.xero_contacts__contact_persons
    group by _dlt_parent_id
),

groups as (
    -- The groups a contact is in, as each paged contact lists them (pipelines/xero: no extra call);
    -- a deleted group keeps no members.
    select _dlt_parent_id as parent_id, list(distinct cx_text(name) order by cx_text(name)) as contact_groups
    from raw.xero_contacts__contact_groups
    where upper(coalesce(status, 'ACTIVE')) = 'ACTIVE' and cx_text(name) is not null
    group by _dlt_parent_id
)

select
    c.contact_id,
    c.contact_number,
    -- The Capsule party this tool numbered the contact after (prefix ∥ party id), else null: such a
    -- contact belongs to that party and is never another party's match (contact_matches.sql).
    case
        when starts_with(lower(trim(c.contact_number)), lower($contact_number_prefix))
            then try_cast(
                regexp_extract(substr(trim(c.contact_number), length($contact_number_prefix) + 1), '^[0-9]{1,18}$')
                as bigint
            )
    end as numbered_party_id,
    c.account_number,
    c.contact_status,
    c.contact_status = 'ARCHIVED' as is_archived,
    -- Cleaned as the Capsule side is (cx_name), so equal names compare equal and the preflight sees a
    -- name Xero already holds in another spelling (NFD, an invisible character at an end).
    cx_name(c.name) as name,
    cx_fold_name(c.name) as folded_name,
    cx_name(c.first_name) as first_name,
    cx_name(c.last_name) as last_name,
    c.email,
    -- The e-mail is canonical already (cx_email): its domain is what follows the one "@".
    split_part(c.email, '@', 2) as email_domain,
    coalesce(cx_company_domain(cx_website_domain(c.website)), cx_company_domain(split_part(c.email, '@', 2)))
        as company_domain,
    -- The contact's phone for matching: DEFAULT first, then MOBILE, DDI, any other.
    coalesce(ph.phone_default, ph.phone_mobile, ph.phone_ddi, ph.phone_any) as phone_e164,
    c.tax_number,
    cx_abn(c.tax_number) as abn,
    c.merged_to_contact_id,
    -- Xero marks a contact a customer once it has a sales invoice (IsCustomer, read-only);
    -- create_in_capsule = customers creates only those (reconcile/capsule_creates.sql).
    coalesce(c.is_customer, false) as is_customer,
    c.updated_date_utc as updated_at,
    ph.phone_default,
    ph.phone_mobile,
    ph.phone_fax,
    cx_blank(c.website) as website,
    coalesce(a.street.lines, cast([] as varchar[])) as street_lines,
    a.street.city as street_city,
    a.street.region as street_region,
    a.street.postal_code as street_postal_code,
    a.street.country as street_country,
    coalesce(a.postal.lines, cast([] as varchar[])) as postal_lines,
    a.postal.city as postal_city,
    a.postal.region as postal_region,
    a.postal.postal_code as postal_postal_code,
    a.postal.country as postal_country,
    coalesce(p.contact_persons, []) as contact_persons,
    coalesce(g.contact_groups, cast([] as varchar[])) as contact_groups,
    -- What the contact still owes or is owed (receivable and payable both count): it does not stop an
    -- archive (docs/api-facts.md), but the person approving one is told (operation_drafts.sql).
    cast(
        abs(coalesce(c.balances__accounts_receivable__outstanding, 0))
        + abs(coalesce(c.balances__accounts_payable__outstanding, 0))
        as decimal(18, 2)
    ) as balance_outstanding,
    -- When this copy was read (dlt's load id is the load's start, in seconds, on this machine's clock):
    -- a write of this tool after it is newer than the copy (reconcile/current_contacts.sql).
    to_timestamp(try_cast(c._dlt_load_id as double)) as loaded_at
from (select *, cx_email(email_address) as email from contacts) as c
left join phones as ph on ph.parent_id = c._dlt_id
left join addresses as a on a.parent_id = c._dlt_id
left join persons as p on p.parent_id = c._dlt_id
left join groups as g on g.parent_id = c._dlt_id

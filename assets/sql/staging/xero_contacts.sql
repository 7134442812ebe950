-- One tidy row per Xero contact (archived included), normalised like the Capsule side.
with contacts as (
    select * from raw.xero_contacts
),

phones as (
    -- Xero splits a number into country code, area code and number (FACTS §5); put it back
    -- together before parsing, preferring DEFAULT, then MOBILE, then the rest.
    select
        c.contact_id,
        arg_min(
            cx_phone_e164(
                case
                    when coalesce(trim(ph.phone_country_code), '') <> ''
                        then '+' || regexp_replace(ph.phone_country_code, '[^0-9]', '', 'g') || ' '
                        || coalesce(ph.phone_area_code, '') || ' ' || ph.phone_number
                    else concat_ws(' ', nullif(trim(ph.phone_area_code), ''), ph.phone_number)
                end
            ),
            case ph.phone_type when 'DEFAULT' then 0 when 'MOBILE' then 1 when 'DDI' then 2 else 3 end
        ) filter (where coalesce(trim(ph.phone_number), '') <> '') as phone_e164
    from contacts as c
    inner join raw.xero_contacts__phones as ph on ph._dlt_parent_id = c._dlt_id
    group by c.contact_id
)

select
    c.contact_id,
    c.contact_number,
    c.account_number,
    c.contact_status,
    c.contact_status = 'ARCHIVED' as is_archived,
    trim(c.name) as name,
    cx_fold_name(c.name) as folded_name,
    c.first_name,
    c.last_name,
    cx_email(c.email_address) as email,
    cx_email_domain(cx_email(c.email_address)) as email_domain,
    coalesce(cx_company_domain(cx_website_domain(c.website)), cx_company_domain(cx_email(c.email_address)))
        as company_domain,
    ph.phone_e164,
    c.tax_number,
    cx_abn(c.tax_number) as abn,
    c.merged_to_contact_id,
    c.updated_date_utc as updated_at
from contacts as c
left join phones as ph on ph.contact_id = c.contact_id

-- Every Xero contact (archived included) in the shape of reconcile.desired_contacts (README.md, "The
-- contact shape"), built by the same macros (transform/sql/macros.sql) so equal means equal.
-- Only the groups this tool manages are compared: tag groups ($group_tags, or every Capsule tag when
-- $all_tags_are_groups) and owner groups ($owner_group_prefix, when $owner_groups); a bookkeeper's own
-- groups (Christmas Card List ...) never show up as a difference. With $two_way, $archived_tag is
-- this tool's tag on the Capsule side, never a managed group (reconcile/mapped_contacts.sql).
-- A contact this tool wrote after its copy was read (the webhook fast lane skips the Xero read when
-- nothing but its own writes changed Xero: docs/operations.md#the-webhook-fast-lane) is what the
-- ledger says it wrote (ledger/written_contacts.sql), not the older copy: the copy would read as a
-- change in Xero and undo the write.
with contacts as (
    select * from staging.xero_contacts
),

written_since_read as (
    select w.*
    from ledger.written_contacts as w
    inner join contacts as c on c.contact_id = w.contact_id
    where w.written_at > c.loaded_at
),

managed_tags as (
    select list_distinct(
        list_transform($group_tags, lambda tag: lower(trim(tag)))
        || coalesce(
            (
                select list(distinct lower(trim(tag)))
                from (select unnest(tags) as tag from staging.capsule_parties)
                where $all_tags_are_groups
            ),
            cast([] as varchar[])
        )
    ) as names,
    case when $two_way then lower(trim($archived_tag)) end as archived_tag
),

read_contacts as (
    select
        c.contact_id,
        c.contact_status,
        c.updated_at as xero_updated_at,
        c.balance_outstanding,
        cx_blank(c.contact_number) as contact_number,
        cx_name(c.name) as name,
        cx_name(c.first_name) as first_name,
        cx_name(c.last_name) as last_name,
        c.email as email_address,
        -- A TaxNumber that is no valid ABN is still a value: it differs from the desired one and shows.
        coalesce(c.abn, cx_blank(c.tax_number)) as tax_number,
        c.website,
        c.phone_default,
        c.phone_mobile,
        c.phone_fax,
        cx_address_json(c.street_lines, c.street_city, c.street_region, c.street_postal_code, c.street_country)
            as street_address,
        cx_address_json(c.postal_lines, c.postal_city, c.postal_region, c.postal_postal_code, c.postal_country)
            as postal_address,
        cx_persons_json(c.contact_persons) as contact_persons,
        cx_groups_json(
            list_filter(
                c.contact_groups,
                lambda name: (
                    list_contains(t.names, lower(trim(name)))
                    or ($owner_groups and starts_with(name, $owner_group_prefix))
                )
                and lower(trim(name)) is distinct from t.archived_tag
            )
        ) as contact_groups
    from contacts as c
    cross join managed_tags as t
)

select
    r.contact_id,
    case when w.contact_id is null then r.contact_status else w.contact_status end as contact_status,
    r.xero_updated_at,
    r.balance_outstanding,
    case when w.contact_id is null then r.contact_number else w.contact_number end as contact_number,
    case when w.contact_id is null then r.name else w.name end as name,
    case when w.contact_id is null then r.first_name else w.first_name end as first_name,
    case when w.contact_id is null then r.last_name else w.last_name end as last_name,
    case when w.contact_id is null then r.email_address else w.email_address end as email_address,
    case when w.contact_id is null then r.tax_number else w.tax_number end as tax_number,
    case when w.contact_id is null then r.website else w.website end as website,
    case when w.contact_id is null then r.phone_default else w.phone_default end as phone_default,
    case when w.contact_id is null then r.phone_mobile else w.phone_mobile end as phone_mobile,
    case when w.contact_id is null then r.phone_fax else w.phone_fax end as phone_fax,
    case when w.contact_id is null then r.street_address else w.street_address end as street_address,
    case when w.contact_id is null then r.postal_address else w.postal_address end as postal_address,
    case when w.contact_id is null then r.contact_persons else w.contact_persons end as contact_persons,
    case when w.contact_id is null then r.contact_groups else w.contact_groups end as contact_groups
from read_contacts as r
left join written_since_read as w on w.contact_id = r.contact_id

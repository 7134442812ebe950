-- Every Xero contact (archived included) in the shape of reconcile.desired_contacts (README.md, "The
-- contact shape"), built by the same macros (transform/sql/macros.sql) so equal means equal.
-- Only the groups this tool manages are compared: tag groups ($group_tags, or every Capsule tag when
-- $all_tags_are_groups) and owner groups ($owner_group_prefix, when $owner_groups); a bookkeeper's own
-- groups (Christmas Card List ...) never show up as a difference. With $two_way, $archived_tag is
-- this tool's tag on the Capsule side, never a managed group (reconcile/mapped_contacts.sql).
with contacts as (
    select * from staging.xero_contacts
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
)

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

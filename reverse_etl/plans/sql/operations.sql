-- The operations of a new plan: the writes of reconcile.contact_operations (create, update, archive,
-- restore; noop, review and hold send nothing), minus the rows the planned-row rules rejected (reconcile.planned_rejects: a write Xero would refuse).
-- after holds exactly the fields that will be sent (changed_fields), as canonical text (null clears
-- the field); before holds the same fields as Xero has them now, so a person sees each change and
-- undo knows what to put back. A create has no before. JSON values of addresses, persons and groups
-- stay JSON text, as in the contact shape (transform/sql/reconcile/README.md).
-- The parties the error queue holds back are taken out afterwards (held_back.sql: it compares what
-- each operation asks of Xero with what Xero refused). No parameters.
with planned as (
    select *
    from reconcile.contact_operations
    where operation in ('create', 'update', 'archive', 'restore')
        and party_id not in (select r.party_id from reconcile.planned_rejects as r)
),

valued as (
    select
        o.*,
        map(
            [
                'contact_number', 'name', 'first_name', 'last_name', 'email_address', 'tax_number', 'website',
                'phone_default', 'phone_mobile', 'phone_fax', 'street_address', 'postal_address',
                'contact_persons', 'contact_groups'
            ],
            [
                o.contact_number, o.name, o.first_name, o.last_name, o.email_address, o.tax_number, o.website,
                o.phone_default, o.phone_mobile, o.phone_fax, o.street_address, o.postal_address,
                o.contact_persons, o.contact_groups
            ]
        ) as desired_values,
        map(
            [
                'contact_number', 'name', 'first_name', 'last_name', 'email_address', 'tax_number', 'website',
                'phone_default', 'phone_mobile', 'phone_fax', 'street_address', 'postal_address',
                'contact_persons', 'contact_groups'
            ],
            [
                c.contact_number, c.name, c.first_name, c.last_name, c.email_address, c.tax_number, c.website,
                c.phone_default, c.phone_mobile, c.phone_fax, c.street_address, c.postal_address,
                c.contact_persons, c.contact_groups
            ]
        ) as current_values,
        c.contact_id is not null as has_current,
        c.name as current_name
    from planned as o
    left join reconcile.current_contacts as c on c.contact_id = o.contact_id
)

select
    cast(row_number() over (
        order by
            list_position(['create', 'update', 'restore', 'archive'], operation),
            contact_number,
            party_id
    ) as integer) as seq,
    operation,
    party_id,
    contact_id,
    contact_number,
    changed_fields,
    to_json(map_from_entries(
        list_transform(changed_fields, lambda f: struct_pack(k := f, v := desired_values[f]))
    )) as after,
    case
        when operation <> 'create' and has_current then to_json(map_from_entries(
            list_transform(changed_fields, lambda f: struct_pack(k := f, v := current_values[f]))
        ))
    end as before,
    kept_fields,
    reason || case when expect_refusal then coalesce('; ' || refusal_reason, '') else '' end as reason,
    coalesce(expect_refusal, false) as expect_refusal,
    case when list_contains(changed_fields, 'name') or current_name is null then name else current_name end
        as name
from valued

-- The `create` rows of reconcile.capsule_operations (transform/sql/reconcile/README.md, "Two-way"): ACTIVE
-- Xero contacts no Capsule party has, to become Capsule parties linked both ways (the apply stage sends
-- the "Xero Contact ID" field with the create; the next push numbers the contact). Only with two-way
-- sync: create_in_capsule = customers takes the contacts Xero marks IsCustomer, all takes every one.
-- Never a second party for one contact or one business: only the contacts no party has or may have
-- (reconcile.capsule_create_candidates), less the ones that look like a party (same valid ABN, e-mail or
-- folded name), which wait in reconcile.capsule_create_reviews; both are built before this model.
-- A person when Name = FirstName ∥ ' ' ∥ LastName (case-insensitively, both set) and the contact has no
-- ContactPersons; else an organisation. `after` holds every pullable field Xero has, canonical as in
-- reconcile.current_contacts; tax_number only when it is a valid ABN (an invalid one never lands in
-- Capsule's ABN field).
-- No parameters.
with unclaimed as (
    select
        e.contact_id,
        e.abn,
        e.is_customer,
        c.name,
        c.first_name,
        c.last_name,
        c.email_address,
        c.website,
        c.phone_default,
        c.phone_mobile,
        c.phone_fax,
        c.street_address,
        c.postal_address,
        coalesce(
            c.first_name is not null
            and c.last_name is not null
            and lower(c.name) = lower(c.first_name || ' ' || c.last_name)
            and c.contact_persons is null,
            false
        ) as is_person
    from reconcile.capsule_create_candidates as e
    inner join reconcile.current_contacts as c on c.contact_id = e.contact_id
    where not exists (select 1 from reconcile.capsule_create_reviews as r where r.contact_id = e.contact_id)
),

fields as (
    -- In PULLABLE_FIELDS order (capsule_xero/rules/fields.py); a person's name is its first and last
    -- name (Xero derives Name from them), an organisation's its Name.
    select
        u.*,
        list_filter(
            [
                {'field': 'name', 'value': case when not u.is_person then u.name end},
                {'field': 'first_name', 'value': case when u.is_person then u.first_name end},
                {'field': 'last_name', 'value': case when u.is_person then u.last_name end},
                {'field': 'email_address', 'value': u.email_address},
                {'field': 'tax_number', 'value': u.abn},
                {'field': 'website', 'value': u.website},
                {'field': 'phone_default', 'value': u.phone_default},
                {'field': 'phone_mobile', 'value': u.phone_mobile},
                {'field': 'phone_fax', 'value': u.phone_fax},
                {'field': 'street_address', 'value': u.street_address},
                {'field': 'postal_address', 'value': u.postal_address}
            ],
            lambda entry: entry.value is not null
        ) as entries
    from unclaimed as u
)

select
    'create' as operation,
    cast(null as bigint) as party_id,
    f.contact_id,
    case when f.is_person then 'person' else 'organisation' end as party_type,
    list_transform(f.entries, lambda entry: entry.field) as changed_fields,
    cast(null as varchar) as before,
    cast(to_json(map_from_entries(list_transform(f.entries, lambda entry: (entry.field, entry.value)))) as varchar)
        as after,
    '{}' as row_ids,
    cast(null as varchar) as tag_name,
    cast(null as bigint) as tag_id,
    cast(null as varchar) as base,
    'Xero contact ' || coalesce('"' || f.name || '"', f.contact_id) || ' has no Capsule party: created as '
    || case when f.is_person then 'a person' else 'an organisation' end
    || case when f.is_customer then ' (a customer in Xero)' else '' end as reason
from fields as f

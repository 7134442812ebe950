-- The plan's operations (docs/architecture.md#data-flow, step 6, Diff): one row per desired contact and
-- per Capsule tombstone that has a Xero contact, after the preflight's settlements. operation is one of
-- create | update | archive | restore | noop | review | hold. Only the fields named in changed_fields
-- are sent, each from its column (null clears the field); contact_number is the number the contact has
-- or will have. kept_fields are the fields that differ but keep Xero's value on purpose (policy,
-- Xero-owned field, foreign ContactNumber). A review row keeps the values it would have sent, for the
-- person deciding.
with settlements as (
    select
        party_id,
        bool_or(settlement = 'review') as needs_review,
        coalesce(list(field) filter (where settlement = 'not_sent'), []::varchar[]) as unsent_fields,
        max(settled_value) filter (where settlement = 'suffix') as suffixed_name,
        string_agg(detail, '; ' order by field, problem) filter (where settlement <> 'link') as details
    from reconcile.preflight_problems
    group by party_id
),

settled as (
    select
        o.*,
        s.needs_review,
        coalesce(s.unsent_fields, []::varchar[]) as unsent_fields,
        s.suffixed_name,
        s.details,
        c.contact_number as current_contact_number
    from reconcile.operation_drafts as o
    left join settlements as s on s.party_id = o.party_id
    left join reconcile.current_contacts as c on c.contact_id = o.contact_id
),

sendable as (
    select
        *,
        list_filter(
            [
                'contact_number', 'name', 'first_name', 'last_name', 'email_address', 'tax_number', 'website',
                'phone_default', 'phone_mobile', 'phone_fax', 'street_address', 'postal_address',
                'contact_persons', 'contact_groups'
            ],
            lambda f: (list_contains(changed_fields, f) or (f = 'name' and suffixed_name is not null))
            and not list_contains(unsent_fields, f)
        ) as sent_fields
    from settled
)

select
    case
        when operation in ('create', 'update', 'restore') and coalesce(needs_review, false) then 'review'
        when operation = 'update' and len(sent_fields) = 0 then 'noop'
        else operation
    end as operation,
    party_id,
    contact_id,
    -- Our number when the preflight cannot send it (an archived contact, e.g. the one merged away,
    -- still holds it): the contact keeps its own, possibly none, and its ContactID links the party.
    case when list_contains(unsent_fields, 'contact_number') then current_contact_number else contact_number end
        as contact_number,
    coalesce(suffixed_name, name) as name,
    case when list_contains(unsent_fields, 'first_name') then null else first_name end as first_name,
    case when list_contains(unsent_fields, 'last_name') then null else last_name end as last_name,
    case when list_contains(unsent_fields, 'email_address') then null else email_address end as email_address,
    case when list_contains(unsent_fields, 'tax_number') then null else tax_number end as tax_number,
    case when list_contains(unsent_fields, 'website') then null else website end as website,
    case when list_contains(unsent_fields, 'phone_default') then null else phone_default end as phone_default,
    case when list_contains(unsent_fields, 'phone_mobile') then null else phone_mobile end as phone_mobile,
    case when list_contains(unsent_fields, 'phone_fax') then null else phone_fax end as phone_fax,
    case when list_contains(unsent_fields, 'street_address') then null else street_address end as street_address,
    case when list_contains(unsent_fields, 'postal_address') then null else postal_address end as postal_address,
    case when list_contains(unsent_fields, 'contact_persons') then null else contact_persons end
        as contact_persons,
    contact_groups,
    sent_fields as changed_fields,
    kept_fields,
    expect_refusal,
    refusal_reason,
    case
        when operation = 'update' and len(sent_fields) = 0 and not coalesce(needs_review, false)
            then 'nothing Xero would take: ' || details
        else reason || coalesce('; preflight: ' || details, '')
    end as reason
from sendable

-- The Xero contacts a two-way sync may create in Capsule (create_in_capsule), before the look-alike check
-- (capsule_create_reviews.sql) and the creates (capsule_creates.sql), which both read it. Only with
-- two-way sync: ACTIVE contacts (an archived or GDPR-requested one is never created), of the kind
-- create_in_capsule asks for (customers: Xero's IsCustomer; all), that no party has or may have: not
-- named by a match of any outcome (a review candidate too), by any party's Xero Contact ID field
-- (deleted and out-of-scope parties too), nor written by this tool, nor numbered with our ContactNumber
-- prefix (some party's, maybe one gone from Capsule). One row per contact, with what matching and the
-- create need.
-- Parameters: $two_way, $create_in_capsule, $contact_number_prefix.
with eligible as (
    select x.contact_id, x.contact_number, x.name, x.abn, x.email, x.folded_name, x.is_customer
    from staging.xero_contacts as x
    where
        $two_way
        and x.contact_status = 'ACTIVE'
        and ($create_in_capsule = 'all' or ($create_in_capsule = 'customers' and x.is_customer))
),

claimed as (
    select contact_id from reconcile.contact_matches where contact_id is not null
    union
    select candidate_contact_id from reconcile.contact_matches where candidate_contact_id is not null
    union
    select lower(xero_contact_id) from staging.capsule_parties where xero_contact_id is not null
    union
    select contact_id from ledger.written_contacts
)

select e.*
from eligible as e
where
    not exists (select 1 from claimed as c where c.contact_id = e.contact_id)
    and not coalesce(starts_with(lower(trim(e.contact_number)), lower($contact_number_prefix)), false)

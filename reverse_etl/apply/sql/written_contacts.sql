-- ledger.written_contacts as the apply loop reads and writes it (reverse_etl/apply/written.py; the
-- table and the rule its fields follow: reverse_etl/ledger/sql/written_contacts.sql).
--
-- name: written_contacts
select
    contact_id,
    contact_status, contact_number, name, first_name, last_name, email_address, tax_number, website,
    phone_default, phone_mobile, phone_fax, street_address, postal_address, contact_persons, contact_groups
from ledger.written_contacts
where contact_id in (select unnest($contact_ids));

-- name: write_contacts
insert or replace into ledger.written_contacts (
    contact_id, party_id, plan_id, written_at, contact_status, contact_number, name, first_name, last_name,
    email_address, tax_number, website, phone_default, phone_mobile, phone_fax, street_address,
    postal_address, contact_persons, contact_groups
)
select
    unnest(cast($contact_id as varchar[])),
    unnest(cast($party_id as bigint[])),
    unnest(cast($plan_id as bigint[])),
    $written_at,
    unnest(cast($contact_status as varchar[])),
    unnest(cast($contact_number as varchar[])),
    unnest(cast($name as varchar[])),
    unnest(cast($first_name as varchar[])),
    unnest(cast($last_name as varchar[])),
    unnest(cast($email_address as varchar[])),
    unnest(cast($tax_number as varchar[])),
    unnest(cast($website as varchar[])),
    unnest(cast($phone_default as varchar[])),
    unnest(cast($phone_mobile as varchar[])),
    unnest(cast($phone_fax as varchar[])),
    unnest(cast($street_address as varchar[])),
    unnest(cast($postal_address as varchar[])),
    unnest(cast($contact_persons as varchar[])),
    unnest(cast($contact_groups as varchar[]));

-- name: live_contact_of_party
select contact_id
from ledger.written_contacts
where party_id = $party_id and contact_status = 'ACTIVE'
order by written_at desc
limit 1;

-- name: plan_time_xero
-- Xero's values when planned (the reconcile tables a current plan was made from), for the ledger's
-- fields the plan neither sends nor keeps.
select
    lower(contact_id) as contact_id,
    contact_number, name, first_name, last_name, email_address, tax_number, website, phone_default,
    phone_mobile, phone_fax, street_address, postal_address, contact_persons, contact_groups
from reconcile.current_contacts
where lower(contact_id) in (select unnest($contact_ids));

-- name: plan_time_capsule
-- The Capsule values a plan compared and kept Xero's value against (its kept_fields).
select
    party_id,
    contact_number, name, first_name, last_name, email_address, tax_number, website, phone_default,
    phone_mobile, phone_fax, street_address, postal_address, contact_persons, contact_groups
from reconcile.desired_contacts
where party_id in (select unnest($party_ids));

-- One row per Xero contact this tool created, updated, restored or archived: the base of the
-- three-way diff (transform/sql/reconcile/contact_diffs.sql). Each compared field holds, after a write:
-- the value sent (a field in the operation's changed_fields); for a field in kept_fields (Xero's
-- value kept on purpose by the conflict policy), the Capsule value it was compared with; otherwise
-- the value Xero holds. Recording the Capsule value for a kept field is what makes the next run see
-- "changed in Xero only" rather than "changed in Capsule" and overwrite what Xero just won.
-- Archiving changes only contact_status. Fields are the canonical text of reconcile.desired_contacts,
-- null = empty. Written by the apply loop (reverse_etl/apply/written.py).
create schema if not exists ledger;

create table if not exists ledger.written_contacts (
    contact_id varchar primary key,
    party_id bigint not null,
    plan_id bigint,
    written_at timestamptz not null,
    contact_status varchar not null,
    contact_number varchar,
    name varchar,
    first_name varchar,
    last_name varchar,
    email_address varchar,
    tax_number varchar,
    website varchar,
    phone_default varchar,
    phone_mobile varchar,
    phone_fax varchar,
    street_address varchar,
    postal_address varchar,
    contact_persons varchar,
    contact_groups varchar
);

-- The durable record of what this tool wrote to Xero (DESIGN.md, data flow 7). DDL only and never
-- replaced: a rebuilt table would forget every earlier write and the next plan would settle each
-- difference again as if the contacts had just been adopted.
create schema if not exists ledger;

-- One row per Xero contact this tool created, updated, restored or archived: the base of the
-- three-way diff (transform/sql/reconcile/contact_diffs.sql). Each compared field holds, after a write:
-- the value sent (a field in the operation's changed_fields); for a field in kept_fields (Xero's
-- value kept on purpose by the conflict policy), the Capsule value it was compared with; otherwise
-- the value Xero holds. Recording the Capsule value for a kept field is what makes the next run see
-- "changed in Xero only" rather than "changed in Capsule" and overwrite what Xero just won.
-- Archiving changes only contact_status. Fields are the canonical text of reconcile.desired_contacts,
-- null = empty.
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

-- Every History note this tool added to a Xero contact, so a note is never added twice (Xero's
-- History is append-only). The note's hash covers the party and the items it summarised
-- (transform/sql/reconcile/history_notes.sql); a row is written only after Xero accepted the note.
create table if not exists ledger.history_notes (
    party_id bigint not null,
    contact_id varchar,
    note_hash varchar primary key,
    item_keys varchar[] not null,
    written_at timestamptz not null
);

-- A contact's managed groups on their way (the apply loop's group step, reverse_etl/apply.py): one
-- row per contact, inserted before the first ContactGroups call and removed in the transaction that
-- records the groups in written_contacts. Group calls are not atomic per contact, so a run killed
-- between them leaves a contact in some of its groups: while a row is here, the three-way diff
-- (transform/sql/reconcile/contact_diffs.sql) counts membership Xero gained or lost on the way to
-- target as this tool's own write, never as an edit made in Xero. target is the canonical
-- contact_groups value being set (null = none).
create table if not exists ledger.group_outbox (
    contact_id varchar primary key,
    party_id bigint not null,
    plan_id bigint not null,
    target varchar,
    started_at timestamptz not null
);

-- The ContactID write-back into the Capsule custom field: pending until Capsule took it. Capsule's
-- hourly limit (capsule FACTS §10) can stop a run part way; what is pending is done by the next run.
-- The write bumps the party's updatedAt like anyone's edit would: capsule_updated_before (as staged
-- when it was planned) and capsule_updated_after (Capsule's answer) let staging tell the two apart.
create table if not exists ledger.capsule_write_backs (
    party_id bigint primary key,
    contact_id varchar not null,
    plan_id bigint,
    state varchar not null,
    message varchar,
    "at" timestamptz not null,
    capsule_updated_before timestamptz,
    capsule_updated_after timestamptz
);
alter table ledger.capsule_write_backs add column if not exists capsule_updated_before timestamptz;
alter table ledger.capsule_write_backs add column if not exists capsule_updated_after timestamptz;

-- A contact's managed groups on their way (the apply loop's group step, reverse_etl/apply/groups.py):
-- one row per contact, inserted before the first ContactGroups call and removed in the transaction that
-- records the groups in written_contacts. Group calls are not atomic per contact, so a run killed
-- between them leaves a contact in some of its groups: while a row is here, the three-way diff
-- (transform/sql/reconcile/contact_diffs.sql) counts membership Xero gained or lost on the way to
-- target as this tool's own write, never as an edit made in Xero. target is the canonical
-- contact_groups value being set (null = none).
create schema if not exists ledger;

create table if not exists ledger.group_outbox (
    contact_id varchar primary key,
    party_id bigint not null,
    plan_id bigint not null,
    target varchar,
    started_at timestamptz not null
);

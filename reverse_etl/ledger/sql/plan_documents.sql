-- One row per billing document a plan makes (reconcile.billing_documents, checked by
-- reconcile.billing_preflight; docs/billing.md): operation `create` (a DRAFT quote or invoice sent to
-- Xero by reverse_etl/apply/documents.py) or `review` (a preflight problem: reason names it; never
-- sent). reference (CAP-OPP-<id>) is the durable key. contact_id is null when the party's contact is
-- created by the same plan (contact_status created_in_plan: the apply stage reads its ContactID from
-- ledger.written_contacts). Amounts are exact decimals; the tracking IDs and names are Xero's own.
create schema if not exists ledger;

create table if not exists ledger.plan_documents (
    plan_id bigint not null,
    seq integer not null,
    operation varchar not null,
    reference varchar not null,
    kind varchar not null,
    opportunity_id bigint not null,
    opportunity_name varchar,
    party_id bigint,
    party_name varchar,
    contact_id varchar,
    contact_status varchar not null,
    description varchar not null,
    quantity decimal(18, 4) not null,
    unit_amount decimal(18, 2),
    currency varchar,
    line_amount_types varchar not null,
    account_code varchar,
    tax_type varchar,
    item_code varchar,
    tracking_category_id varchar,
    tracking_category varchar,
    tracking_option_id varchar,
    tracking_option varchar,
    reason varchar,
    inputs_hash varchar not null,
    primary key (plan_id, seq)
);

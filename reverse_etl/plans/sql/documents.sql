-- A plan's billing documents (ledger.plan_documents; docs/billing.md): drafted from
-- reconcile.billing_documents and reconcile.billing_preflight into the temporary table
-- plan_draft_documents, counted, stored, read. Named statements, run by reverse_etl/plans/documents.py.
--
-- name: draft
-- A document with a preflight problem is `review` (its reasons joined); the others `create`. The
-- tracking category and option are named as Xero spells them, with their IDs: Xero drops an option
-- it cannot match without an error, and quotes reportedly keep tracking only by ID
-- (docs/api-facts.md#xero-money-settings). to_approve: the document waits for a person unless
-- $auto_approve_under is set and it is under it in the organisation's base currency.
create or replace temp table plan_draft_documents as
with problems as (
    select reference, string_agg(reason, '; ' order by problem, reason) as reason
    from reconcile.billing_preflight
    group by reference
),

options as (
    select
        c.tracking_category_id,
        c.name as category,
        o.tracking_option_id,
        o.name as option_name
    from raw.xero_tracking_categories as c
    inner join raw.xero_tracking_categories__options as o on o._dlt_parent_id = c._dlt_id
    where c.status = 'ACTIVE' and o.status = 'ACTIVE'
),

base as (
    select max(base_currency) as base_currency
    from raw.xero_organisation
)

select
    cast(row_number() over (order by d.opportunity_id) as integer) as seq,
    case when p.reference is null then 'create' else 'review' end as operation,
    d.reference,
    d.kind,
    d.opportunity_id,
    d.opportunity_name,
    d.party_id,
    d.party_name,
    d.contact_id,
    d.contact_status,
    d.description,
    d.quantity,
    d.unit_amount,
    d.currency,
    d.line_amount_types,
    d.account_code,
    d.tax_type,
    d.item_code,
    o.tracking_category_id,
    coalesce(o.category, d.tracking_category) as tracking_category,
    o.tracking_option_id,
    coalesce(o.option_name, d.tracking_option) as tracking_option,
    p.reason,
    d.inputs_hash,
    not coalesce(
        $auto_approve_under is not null
        and d.currency = (select base_currency from base)
        and d.unit_amount * d.quantity < $auto_approve_under,
        false
    ) as to_approve
from reconcile.billing_documents as d
left join problems as p on p.reference = d.reference
left join options as o
    on lower(o.category) = lower(d.tracking_category) and lower(o.option_name) = lower(d.tracking_option)
qualify row_number() over (partition by d.reference order by o.tracking_option_id) = 1;

-- name: draft_unchecked
-- The same when Xero's settings were never extracted: every document is in review (the preflight
-- says why), so no tracking IDs and no base currency are needed.
create or replace temp table plan_draft_documents as
select
    cast(row_number() over (order by d.opportunity_id) as integer) as seq,
    'review' as operation,
    d.reference,
    d.kind,
    d.opportunity_id,
    d.opportunity_name,
    d.party_id,
    d.party_name,
    d.contact_id,
    d.contact_status,
    d.description,
    d.quantity,
    d.unit_amount,
    d.currency,
    d.line_amount_types,
    d.account_code,
    d.tax_type,
    d.item_code,
    cast(null as varchar) as tracking_category_id,
    d.tracking_category,
    cast(null as varchar) as tracking_option_id,
    d.tracking_option,
    coalesce(
        (select string_agg(f.reason, '; ') from reconcile.billing_preflight as f where f.reference = d.reference),
        'not checked'
    ) as reason,
    d.inputs_hash,
    true as to_approve
from reconcile.billing_documents as d;

-- name: draft_none
create or replace temp table plan_draft_documents as
select * exclude (plan_id), false as to_approve
from ledger.plan_documents
where false;

-- name: draft_counts
select
    count(*) filter (where operation = 'create' and kind = 'quote') as draft_quote,
    count(*) filter (where operation = 'create' and kind = 'invoice') as draft_invoice,
    count(*) filter (where operation = 'review') as documents_in_review,
    count(*) filter (where operation = 'create' and to_approve) as documents_to_approve
from plan_draft_documents;

-- name: draft_hash
-- Nothing when there are no documents: a plan without billing hashes as it always did.
select coalesce(string_agg(md5(to_json(d)::varchar), ',' order by d.seq), '') as documents
from (select * exclude (to_approve) from plan_draft_documents) as d;

-- name: drop_draft
drop table if exists plan_draft_documents;

-- name: store
insert into ledger.plan_documents by name
select $plan_id as plan_id, * exclude (to_approve)
from plan_draft_documents;

-- name: documents
-- A plan's documents as stored, in order; optionally one operation only and at most $limit.
select *
from ledger.plan_documents
where plan_id = $plan_id and ($operation is null or operation = $operation)
order by seq
limit $limit;

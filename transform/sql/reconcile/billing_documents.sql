-- The DRAFT quote or invoice each newly won Capsule opportunity should become in Xero (docs/billing.md),
-- when the rules file turns billing on ($billing_kind quote | invoice; off: no row). One line from the
-- opportunity: its name, quantity 1, its value exactly, the rules' account, tax type and item, and the
-- tracking option named by the billed party's tag with $billing_tag_prefix. reference (CAP-OPP-<id>) is
-- the durable key. The billed party is the opportunity's party, or a person's organisation when people
-- travel as its ContactPersons (sync.people). Its Xero contact: the one the diff keeps (contact_status
-- known), the one this plan creates (created_in_plan: the apply stage finds its ContactID in
-- ledger.written_contacts), or none (the preflight sends the document to review with the reason).
-- Left out: opportunities won before $billing_since (turning billing on must not bill years of won
-- deals), ones this tool already made or found a document for (ledger.document_outcomes done or
-- exists, or waiting in ledger.document_outbox for its lost answer to be looked up), ones
-- Xero refused while nothing they ask has changed (same inputs_hash), and ones whose Capsule field
-- $billing_opportunity_field already holds a document.
-- Parameters: $billing_kind, $billing_since, $billing_line_amount_types, $billing_account_code,
-- $billing_tax_type, $billing_item_code, $billing_tracking_category, $billing_tag_prefix,
-- $billing_opportunity_field, $people_as_contacts.
with won as (
    select w.*, o._dlt_id as opportunity_row
    from reconcile.won_opportunities as w
    inner join raw.capsule_opportunities as o on o.id = w.opportunity_id
    where
        $billing_kind in ('quote', 'invoice')
        and coalesce(w.closed_on, cast(w.updated_at as date)) >= cast($billing_since as date)
),

field_filled as (
    select distinct f._dlt_parent_id as opportunity_row
    from raw.capsule_opportunities__fields as f
    where
        lower(trim(f.definition__name)) = lower(trim($billing_opportunity_field))
        and coalesce(trim(f.value), '') <> ''
),

billed as (
    select
        w.*,
        p.display_name as opportunity_party_name,
        case
            when p.party_type = 'person' and p.organisation_id is not null and not $people_as_contacts
                then p.organisation_id
            else w.party_id
        end as billed_party_id
    from won as w
    left join staging.capsule_parties as p on p.party_id = w.party_id
    where w.opportunity_row not in (select opportunity_row from field_filled)
),

written as (
    select party_id, arg_max(contact_id, written_at) as contact_id
    from ledger.written_contacts
    where contact_status = 'ACTIVE'
    group by party_id
),

with_contact as (
    select
        b.*,
        bp.display_name as party_name,
        bp.is_deleted as party_deleted,
        coalesce(bp.tags, []::varchar[]) as party_tags,
        s.in_scope,
        s.scope_reason,
        co.operation as contact_operation,
        case
            when co.operation in ('update', 'noop', 'restore') then co.contact_id
            when co.operation is null and m.outcome = 'matched' then m.contact_id
            when co.operation is null then wr.contact_id
        end as known_contact_id
    from billed as b
    left join staging.capsule_parties as bp on bp.party_id = b.billed_party_id
    left join reconcile.sync_scope as s on s.party_id = b.billed_party_id
    left join reconcile.contact_operations as co on co.party_id = b.billed_party_id
    left join reconcile.contact_matches as m on m.party_id = b.billed_party_id
    left join written as wr on wr.party_id = b.billed_party_id
),

shaped as (
    select
        c.*,
        case
            when c.known_contact_id is not null then 'known'
            when c.contact_operation = 'create' then 'created_in_plan'
            else 'none'
        end as contact_status,
        -- The first of the party's tags (in name order) with the prefix names the option.
        case
            when $billing_tracking_category is not null
                then nullif(trim(substr(
                    list_sort(list_filter(
                        c.party_tags, lambda t: starts_with(lower(t), lower($billing_tag_prefix))
                    ))[1],
                    length($billing_tag_prefix) + 1
                )), '')
        end as tracking_option,
        case
            when $billing_tracking_category is not null
                then list_sort(list_filter(
                    c.party_tags, lambda t: starts_with(lower(t), lower($billing_tag_prefix))
                ))[1]
        end as tracking_tag
    from with_contact as c
),

documents as (
    select
        reference,
        cast($billing_kind as varchar) as kind,
        opportunity_id,
        opportunity_name,
        party_id as opportunity_party_id,
        billed_party_id as party_id,
        coalesce(party_name, opportunity_party_name, 'party ' || billed_party_id) as party_name,
        party_deleted,
        in_scope,
        scope_reason,
        contact_operation,
        known_contact_id as contact_id,
        contact_status,
        coalesce(opportunity_name, 'Opportunity ' || opportunity_id) as description,
        cast(1 as decimal(18, 4)) as quantity,
        amount as unit_amount,
        amount,
        currency,
        cast($billing_line_amount_types as varchar) as line_amount_types,
        cast($billing_account_code as varchar) as account_code,
        cast($billing_tax_type as varchar) as tax_type,
        cast($billing_item_code as varchar) as item_code,
        case when tracking_option is not null then cast($billing_tracking_category as varchar) end
            as tracking_category,
        tracking_option,
        tracking_tag,
        cast($billing_tracking_category as varchar) as tracking_rule_category,
        closed_on
    from shaped
),

hashed as (
    select
        d.*,
        -- What the document asks of Xero: a refusal is not asked again while this stays the same.
        md5(concat_ws(
            '|', d.kind, d.contact_id, d.contact_status, d.description, cast(d.unit_amount as varchar),
            d.currency, d.line_amount_types, d.account_code, d.tax_type, d.item_code, d.tracking_category,
            d.tracking_option
        )) as inputs_hash
    from documents as d
)

select h.*
from hashed as h
where
    h.reference not in (select reference from ledger.document_outcomes where status in ('done', 'exists'))
    -- A send whose answer was lost is settled by the apply stage's look-up, never planned again.
    and h.reference not in (select reference from ledger.document_outbox)
    and not exists (
        select 1
        from ledger.document_outcomes as f
        where f.reference = h.reference and f.status = 'failed' and f.inputs_hash = h.inputs_hash
    )
-- One document per opportunity, whatever the joins found.
qualify row_number() over (partition by h.reference order by h.contact_id nulls last) = 1
order by h.opportunity_id

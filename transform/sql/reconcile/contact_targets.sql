-- Which Xero contact each planned row concerns, and in what state (docs/architecture.md#data-flow, step
-- 6, Diff): one row per desired contact and per Capsule tombstone that still has a Xero contact.
-- Everything after this (diff, preflight, operations) keys on these rows, so none is lost on the way to
-- the plan.
-- Parameters: $contact_number_prefix, $name_collision, $restore_archived_by_xero.
with desired as (
    select party_id, contact_id, match_outcome, contact_number, name
    from reconcile.desired_contacts
),

contacts as (
    select contact_id, contact_number, contact_status, name
    from reconcile.current_contacts
),

written as (
    select contact_id, party_id, contact_status, written_at
    from ledger.written_contacts
),

-- name_collision = link: a new party whose exact name an active Xero contact already has becomes an
-- update of that contact, when it is the only one, carries no ContactNumber of ours (it is not
-- another party's) and nothing else claims it. Names compare trimmed and case-insensitively, as Xero's
-- collation does (the stand-in's unique_key, sandbox/xero/organisation.py).
active_names as (
    select
        contact_id,
        lower(trim(name)) as name_key,
        coalesce(starts_with(lower(contact_number), lower($contact_number_prefix)), false) as has_our_number
    from contacts
    where contact_status = 'ACTIVE' and name is not null
),

name_hits as (
    select
        d.party_id,
        count(*) as hits,
        min(a.contact_id) as contact_id,
        bool_or(a.has_our_number) as any_ours
    from desired as d
    inner join active_names as a on a.name_key = lower(trim(d.name))
    where $name_collision = 'link' and d.match_outcome = 'new' and d.contact_id is null
    group by d.party_id
),

links as (
    select h.party_id, h.contact_id
    from name_hits as h
    where
        h.hits = 1
        and not h.any_ours
        and not exists (select 1 from desired as d where d.contact_id = h.contact_id)
    qualify count(*) over (partition by h.contact_id) = 1
),

desired_targets as (
    select
        d.party_id,
        coalesce(d.contact_id, l.contact_id) as contact_id,
        case when d.contact_id is not null then 'matched' when l.contact_id is not null then 'name_link' end
            as target_rule,
        d.match_outcome,
        -- The name the suffix policy gives a contact whose name is taken: the ContactNumber keeps it
        -- unique, the base is trimmed so the whole stays within Xero's 255 characters
        -- (docs/api-facts.md#xero-contact-fields-and-limits).
        rtrim(left(d.name, 255 - length(' (' || d.contact_number || ')'))) || ' (' || d.contact_number || ')'
            as suffixed_name
    from desired as d
    left join links as l on l.party_id = d.party_id
),

-- A tombstone finds its contact through what this tool wrote for it, else the cross-reference, else
-- our ContactNumber: Capsule's deleted feed carries only the id (CASES.md, "Deletions").
tombstones as (
    select party_id, deleted_at, lower(xero_contact_id) as xero_contact_id
    from staging.capsule_parties
    where is_deleted
),

tombstone_candidates as (
    select t.party_id, w.contact_id, 1 as found_rank, 'ledger' as found_by
    from tombstones as t
    inner join written as w on w.party_id = t.party_id
    union all
    select t.party_id, t.xero_contact_id, 2, 'cross_reference'
    from tombstones as t
    where t.xero_contact_id is not null
    union all
    select t.party_id, c.contact_id, 3, 'contact_number'
    from tombstones as t
    inner join contacts as c
        on lower(c.contact_number) = lower($contact_number_prefix || cast(t.party_id as varchar))
),

tombstone_targets as (
    select
        tc.party_id,
        arg_min(tc.contact_id, tc.found_rank) as contact_id,
        arg_min(tc.found_by, tc.found_rank) as target_rule
    from tombstone_candidates as tc
    inner join contacts as c on c.contact_id = tc.contact_id
    group by tc.party_id
),

live_claims as (
    select d.contact_id, min(d.party_id) as party_id
    from desired_targets as d
    where d.contact_id in (select contact_id from tombstone_targets)
    group by d.contact_id
)

select
    t.party_id,
    t.contact_id,
    false as is_tombstone,
    t.target_rule,
    case
        when t.match_outcome = 'review' then 'review'
        when t.contact_id is null and t.match_outcome = 'new' then 'create'
        when t.contact_id is null then 'review'
        when c.contact_id is null then 'review'
        when c.contact_status = 'ACTIVE' then 'active'
        when w.contact_status = 'ARCHIVED' or $restore_archived_by_xero then 'restore'
        else 'hold'
    end as target_state,
    case
        when t.match_outcome = 'review'
            then 'the match needs a person: ' || coalesce(m.review_reason, 'no reason given')
        when t.contact_id is null and t.match_outcome = 'new' then 'no Xero contact is this party'
        when t.match_outcome is null
            then 'never matched (no row in reconcile.contact_matches): creating it could duplicate a contact'
        when t.contact_id is null then 'match outcome ' || t.match_outcome || ' without a contact'
        when c.contact_id is null then 'the matched Xero contact ' || t.contact_id || ' is not in the extract'
        when c.contact_status = 'ACTIVE' and t.target_rule = 'name_link'
            then 'the active Xero contact of the same name, linked by the name_collision policy'
        when c.contact_status = 'ACTIVE' then 'the matched Xero contact'
        when w.contact_status = 'ARCHIVED' then 'the contact this tool archived; the party is live again'
        when $restore_archived_by_xero then 'archived in Xero, and restore_archived_by_xero is on'
        else 'archived in Xero by someone other than this tool; left alone and reported'
            || ' (restore_archived_by_xero is off)'
    end as state_reason,
    t.suffixed_name
from desired_targets as t
left join contacts as c on c.contact_id = t.contact_id
left join written as w on w.contact_id = t.contact_id
left join reconcile.contact_matches as m on m.party_id = t.party_id

union all

select
    t.party_id,
    t.contact_id,
    true as is_tombstone,
    t.target_rule,
    case
        when l.party_id is not null then 'claimed'
        when count(*) over (partition by t.contact_id order by t.party_id) > 1 then 'claimed'
        when c.contact_status = 'ACTIVE' then 'archive'
        else 'archived'
    end as target_state,
    case
        when l.party_id is not null
            then 'deleted in Capsule, but its Xero contact now belongs to live party ' || l.party_id
            || ': not archived'
        when count(*) over (partition by t.contact_id order by t.party_id) > 1
            then 'deleted in Capsule; its Xero contact is archived for another deleted party'
        when c.contact_status = 'ACTIVE' then 'deleted in Capsule: archives its Xero contact (found by '
            || t.target_rule || ')'
        else 'deleted in Capsule; its Xero contact is already archived'
    end as state_reason,
    null as suffixed_name
from tombstone_targets as t
inner join contacts as c on c.contact_id = t.contact_id
left join live_claims as l on l.contact_id = t.contact_id

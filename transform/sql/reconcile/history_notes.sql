-- The History note to add to each Xero contact
-- (docs/mapping.md#history-notes-opportunities-cases-and-tasks): Xero contacts have no custom fields,
-- so new or changed Capsule opportunities, cases (kases) and tasks travel as one short readable summary
-- per party. One row per party with something new to say.
--
-- An item is one opportunity, kase or task in one state; its key is kind:id@updatedAt (UTC), so a
-- change makes a new key. Notes cannot be edited or deleted (docs/api-facts.md#xero-history-notes), so
-- an item whose key is already in ledger.history_notes is never noted again, and note_hash (sha256 of
-- the party id and the item keys) lets the writer refuse to send the same note twice.
--
-- Which items count: those updated after the party's cutoff and not yet noted. The cutoff is
-- $history_since for a party with no note yet (a first migration must not flood every contact with
-- years of history; null = no limit), and the earlier of $history_since and the party's first note
-- afterwards, so an item changed between an extract and the note's write is still picked up next time.
--
-- Where: people with an organisation travel as its ContactPersons, so their items go on the
-- organisation's note. The note's party must be (or be about to become) a Xero contact: matched
-- (contact_id) or new (contact_id null, filled by the writer after the create), in scope. Parties in
-- review wait: their items stay un-noted until the match is settled. Deleted parties, and items of
-- deleted parties, opportunities or kases, are ignored — except that an opportunity or kase deleted
-- after it was noted gets one "deleted" line, so the History does not end on a stale state.
--
-- Text: "Capsule update <date of the latest change>: " then the items by updatedAt, then id, joined by
-- " · ". Dates are UTC. Xero takes at most 2,500 characters of Details
-- (docs/api-facts.md#xero-history-notes); a longer note keeps the first items that fit and ends with
-- "… and N more". Items counted in "N more" are noted (their keys are in item_keys) so a busy party
-- does not get a trickle of notes about old changes.
-- Parameters: $history_since (timestamptz or null).
with parties as (
    select party_id, party_type, organisation_id, is_deleted
    from staging.capsule_parties
),

note_parties as (
    select
        p.party_id,
        case
            when p.party_type = 'person' and p.organisation_id is not null then p.organisation_id
            else p.party_id
        end as note_party_id
    from parties as p
    where not p.is_deleted
),

targets as (
    select m.party_id, case when m.outcome = 'matched' then m.contact_id end as contact_id
    from reconcile.contact_matches as m
    left join reconcile.sync_scope as s on s.party_id = m.party_id
    where m.outcome in ('matched', 'new') and coalesce(s.in_scope, true)
        -- A party held back for its name never gets a contact: a note for it could never be sent
        -- and would ride along in every plan.
        and not exists (
            select 1 from staging.quarantine as q
            where q.record_id = cast(m.party_id as varchar) and q.effect = 'party held back'
        )
),

noted as (
    select distinct
        h.party_id,
        k.item_key,
        regexp_extract(k.item_key, '^([a-z]+):', 1) as kind,
        try_cast(regexp_extract(k.item_key, '^[a-z]+:([0-9]+)@', 1) as bigint) as item_id
    from ledger.history_notes as h, unnest(h.item_keys) as k (item_key)
),

cutoffs as (
    select
        t.party_id,
        case
            when cast($history_since as timestamptz) is null then null
            when min(h.written_at) is null then cast($history_since as timestamptz)
            else least(cast($history_since as timestamptz), min(h.written_at))
        end as cutoff
    from targets as t
    left join ledger.history_notes as h on h.party_id = t.party_id
    group by t.party_id
),

tombstones as (
    select 'opportunity' as kind, id as item_id, max(deleted_at) as deleted_at
    from raw.capsule_deleted_opportunities
    group by id
    union all
    select 'kase', id, max(deleted_at)
    from raw.capsule_deleted_kases
    group by id
),

opportunities as (
    select o.*
    from raw.capsule_opportunities as o
    where not exists (select 1 from tombstones as d where d.kind = 'opportunity' and d.item_id = o.id)
),

kases as (
    select k.*
    from raw.capsule_kases as k
    where not exists (select 1 from tombstones as d where d.kind = 'kase' and d.item_id = k.id)
),

live_items as (
    -- Capsule says won or lost through closing milestones; a lost one carries lostReason
    -- (docs/api-facts.md#capsule-opportunities-kases-and-tasks).
    select
        'opportunity' as kind,
        o.id as item_id,
        o.party__id as party_id,
        o.created_at,
        o.updated_at,
        'Opportunity' as label,
        o.name as title,
        case
            when o.lost_reason__id is not null or lower(o.milestone__name) = 'lost'
                then 'lost' || coalesce(' (' || cx_blank(o.lost_reason__name) || ')', '')
            when o.closed_on is not null or lower(o.milestone__name) = 'won' then 'won'
            else 'at ' || coalesce(cx_blank(o.milestone__name), 'no milestone')
        end
        || coalesce(
            ', '
            || case upper(o.value__currency)
                when 'AUD' then 'A$'
                when 'NZD' then 'NZ$'
                else coalesce(upper(o.value__currency) || ' ', '')
            end
            || case
                when o.value__amount = round(o.value__amount)
                    then format('{:,}', cast(o.value__amount as bigint))
                else format('{:,.2f}', o.value__amount)
            end,
            ''
        ) as state
    from opportunities as o
    union all
    select
        'kase',
        k.id,
        k.party__id,
        k.created_at,
        k.updated_at,
        'Case',
        k.name,
        case
            when upper(k.status) = 'CLOSED'
                then 'closed' || coalesce(' ' || strftime(k.closed_on, '%Y-%m-%d'), '')
            else 'open' || coalesce(' (' || cx_blank(k.stage__name) || ')', '')
        end
    from kases as k
    union all
    -- A task hangs off a party, an opportunity or a kase
    -- (docs/api-facts.md#capsule-opportunities-kases-and-tasks); the last two lead to the party through
    -- their parent, and a task of a deleted parent went with it.
    select
        'task',
        t.id,
        coalesce(t.party__id, o.party__id, k.party__id),
        t.created_at,
        t.updated_at,
        'Task',
        t.description,
        case upper(t.status)
            when 'COMPLETED'
                then 'completed'
                || coalesce(' ' || strftime(t.completed_at at time zone 'UTC', '%Y-%m-%d'), '')
            when 'OPEN' then coalesce('due ' || strftime(t.due_on, '%Y-%m-%d'), 'open')
            else lower(t.status)
        end
    from raw.capsule_tasks as t
    left join opportunities as o on o.id = t.opportunity__id
    left join kases as k on k.id = t.kase__id
    where
        t.party__id is not null
        or (t.opportunity__id is not null and o.id is not null)
        or (t.kase__id is not null and k.id is not null)
),

items as (
    select
        n.note_party_id,
        i.kind,
        i.item_id,
        i.kind || ':' || i.item_id || '@'
        || strftime(i.updated_at at time zone 'UTC', '%Y-%m-%dT%H:%M:%SZ') as item_key,
        i.created_at,
        i.updated_at,
        i.label,
        i.title,
        i.state
    from live_items as i
    inner join note_parties as n on n.party_id = i.party_id
    union all
    select distinct
        n.party_id,
        d.kind,
        d.item_id,
        d.kind || ':' || d.item_id || '@deleted',
        null,
        d.deleted_at,
        case d.kind when 'opportunity' then 'Opportunity' else 'Case' end,
        coalesce(o.name, k.name),
        'deleted'
    from noted as n
    inner join tombstones as d on d.kind = n.kind and d.item_id = n.item_id
    left join raw.capsule_opportunities as o on d.kind = 'opportunity' and o.id = d.item_id
    left join raw.capsule_kases as k on d.kind = 'kase' and k.id = d.item_id
),

fresh as (
    select
        i.*,
        t.contact_id,
        i.created_at > coalesce(c.cutoff, cast('-infinity' as timestamptz))
        and not exists (
            select 1 from noted as n where n.kind = i.kind and n.item_id = i.item_id
        ) as is_new
    from items as i
    inner join targets as t on t.party_id = i.note_party_id
    inner join cutoffs as c on c.party_id = i.note_party_id
    where
        not exists (select 1 from noted as n where n.item_key = i.item_key)
        and (i.state = 'deleted' or c.cutoff is null or i.updated_at > c.cutoff)
),

lines as (
    select
        f.*,
        case when f.is_new then 'New ' || lower(f.label) else f.label end
        || ' "' || coalesce(f.clean_title, '(untitled)') || '" ' || f.state as line
    from (
        -- A long title is cut at a word boundary so one item cannot crowd out the rest.
        select
            *,
            case
                when length(t) <= 80 then nullif(t, '')
                else regexp_replace(left(t, 79), '\s+\S*$', '') || '…'
            end as clean_title
        -- cx_name: no controls or terminal escapes reach Xero's History, single spaces, NFC.
        from (select *, coalesce(cx_name(title), '') as t from fresh)
    ) as f
),

measured as (
    -- Lengths in UTF-16 code units, which is how .NET (Xero) counts: a character outside the Basic
    -- Multilingual Plane (emoji, rare CJK) counts twice.
    select
        *,
        row_number() over party_order as position,
        count(*) over (partition by note_party_id) as items_total,
        sum(length(line) + length(regexp_replace(line, '[^\x{10000}-\x{10FFFF}]', '', 'g')) + 3) over (
            party_order rows between unbounded preceding and current row
        ) - 3 as running_length,
        'Capsule update '
        || strftime(max(updated_at) over (partition by note_party_id) at time zone 'UTC', '%Y-%m-%d')
        || ': ' as header
    from lines
    window party_order as (partition by note_party_id order by updated_at, item_id, kind)
),

fitted as (
    select
        *,
        coalesce(
            max(position) filter (where position = items_total and length(header) + running_length <= 2500)
                over (partition by note_party_id),
            max(position) filter (
                where position < items_total
                and length(header) + running_length
                + length(' · … and ' || (items_total - position) || ' more') <= 2500
            ) over (partition by note_party_id),
            0
        ) as shown
    from measured
)

select
    note_party_id as party_id,
    any_value(contact_id) as contact_id,
    sha256(note_party_id || '|' || array_to_string(list(item_key order by position), '|')) as note_hash,
    list(item_key order by position) as item_keys,
    any_value(items_total) as items_total,
    any_value(header)
    || coalesce(string_agg(line, ' · ' order by position) filter (where position <= shown), '')
    || case
        when any_value(shown) = any_value(items_total) then ''
        when any_value(shown) = 0 then '… and ' || any_value(items_total) || ' more'
        else ' · … and ' || (any_value(items_total) - any_value(shown)) || ' more'
    end as note
from fitted
group by note_party_id

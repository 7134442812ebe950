-- Won Capsule opportunities (docs/billing.md): one row per live opportunity that reached a won
-- milestone. Capsule says won or lost through closing milestones; a lost one carries lostReason
-- (docs/api-facts.md#capsule-opportunities-kases-and-tasks), so a closed opportunity without a lost
-- reason, or one at a 100 % milestone, is won. Deleted opportunities are left out. The value is read
-- as an exact decimal (2 places, Capsule's currency amounts); reference is the durable key of the
-- Xero document made from it (CAP-OPP-<id>).
with tombstones as (
    select distinct id
    from raw.capsule_deleted_opportunities
)

select
    o.id as opportunity_id,
    'CAP-OPP-' || o.id as reference,
    o.party__id as party_id,
    cx_blank(o.name) as opportunity_name,
    cast(o.value__amount as decimal(18, 2)) as amount,
    upper(cx_blank(o.value__currency)) as currency,
    o.milestone__name as milestone,
    o.closed_on,
    o.updated_at
from raw.capsule_opportunities as o
where
    o.lost_reason__id is null
    and coalesce(lower(o.milestone__name), '') <> 'lost'
    and (o.closed_on is not null or o.probability = 100)
    and o.id not in (select id from tombstones)

-- One line per reconciliation category with its count (docs/architecture.md#data-flow, step 10,
-- Report). Categories overlap on purpose (a Capsule duplicate is also in the review queue): each line
-- answers its own question.
with rules (position, match_rule) as (
    values
        (1, 'cross_reference'),
        (2, 'contact_number'),
        (3, 'merged'),
        (4, 'abn'),
        (5, 'email'),
        (6, 'email_domain'),
        (7, 'name')
),

matched as (
    select
        r.position,
        'matched by ' || r.match_rule as category,
        count(m.party_id) as records,
        'Capsule parties linked to their Xero contact by the ' || r.match_rule || ' rule' as detail
    from rules as r
    left join reconcile.contact_matches as m on m.match_rule = r.match_rule and m.outcome = 'matched'
    group by r.position, r.match_rule
),

xero_duplicate_groups as (
    select count(distinct duplicate_group) as groups
    from reports.duplicates
    where source = 'xero'
),

review_kinds as (
    select kind, count(*) as items
    from reports.review_queue
    group by kind
),

review as (
    select
        coalesce(sum(items), 0) as items,
        coalesce(string_agg(kind || ': ' || items, ', ' order by kind), 'nothing to review') as by_kind
    from review_kinds
),

conflict_kinds as (
    select conflict, count(*) as fields
    from reports.conflicts
    group by conflict
),

conflicts as (
    select
        coalesce(string_agg(conflict || ': ' || fields, ', ' order by conflict), 'none') as by_kind
    from conflict_kinds
),

quarantine as (
    select
        count(distinct record_id) as records,
        count(*) as findings,
        count(distinct record_id) filter (where effect = 'party held back') as held_back
    from staging.quarantine
),

lines as (
    select position, category, records, detail from matched
    union all
    select
        10,
        'new: only in Capsule',
        count(*),
        'in-scope Capsule parties no Xero contact fits: the sync creates them (unless the quarantine holds one back)'
    from reports.only_in_capsule
    union all
    select
        11,
        'only in Xero (active)',
        count(*),
        'active Xero contacts no Capsule party accounts for: left alone'
    from reports.only_in_xero
    where contact_status <> 'ARCHIVED'
    union all
    select
        12,
        'only in Xero (archived)',
        count(*),
        'archived Xero contacts no Capsule party accounts for: left alone'
    from reports.only_in_xero
    where contact_status = 'ARCHIVED'
    union all
    select
        20,
        'Capsule duplicates',
        count(*),
        'Capsule parties sharing an ABN with another: held back for review'
    from reports.duplicates
    where source = 'capsule'
    union all
    select
        21,
        'Xero duplicates',
        count(*),
        'active Xero contacts in ' || (select groups from xero_duplicate_groups)
        || ' groups sharing an ABN, e-mail or name: for a person to merge in Xero'
    from reports.duplicates
    where source = 'xero'
    union all
    select
        30,
        'conflicts settled',
        count(*),
        'field differences the conflict policy settled (' || (select by_kind from conflicts) || '): '
        || count(*) filter (where winner = 'capsule') || ' Capsule won, '
        || count(*) filter (where winner = 'xero') || ' Xero won, '
        || count(*) filter (where winner not in ('capsule', 'xero')) || ' left to a person'
    from reports.conflicts
    union all
    select 31, 'review queue', items, by_kind from review
    union all
    select
        40,
        'out of scope',
        count(*),
        'Capsule parties the rules file keeps out of the sync'
    from reports.out_of_scope
    union all
    select
        41,
        'quarantined',
        records,
        findings || ' broken rules on ' || records || ' records; ' || held_back || ' held back whole, '
        || 'the rest sync without the broken value'
    from quarantine
)

select category, records, detail
from lines
order by position

-- Records that look like one business entered twice, on either side: Capsule organisations or
-- standalone people sharing a valid ABN (as contact_matches holds them back), and active Xero contacts
-- sharing an ABN, e-mail or folded name (reconcile.xero_duplicates). Neither is merged automatically.
with syncable as (
    select party_id, display_name, abn
    from staging.capsule_parties
    where not is_deleted and (party_type = 'organisation' or organisation_id is null) and abn is not null
),

capsule as (
    select
        a.party_id,
        a.display_name,
        a.abn,
        least(a.party_id, min(b.party_id)) as first_party_id,
        string_agg(cast(b.party_id as varchar), ', ' order by b.party_id) as other_ids,
        string_agg(b.display_name || ' (' || b.party_id || ')', ', ' order by b.party_id) as other_names,
        count(*) + 1 as group_size
    from syncable as a
    inner join syncable as b on b.abn = a.abn and b.party_id <> a.party_id
    group by a.party_id, a.display_name, a.abn
)

select
    'capsule' as source,
    cast(party_id as varchar) as record_id,
    display_name as name,
    'abn:' || first_party_id as duplicate_group,
    'abn' as duplicate_rule,
    group_size,
    other_ids,
    'same ABN ' || abn || ' as Capsule ' || other_names as reason
from capsule
union all
select
    'xero',
    contact_id,
    name,
    duplicate_group,
    duplicate_rule,
    group_size,
    array_to_string(other_contact_ids, ', '),
    reason
from reconcile.xero_duplicates
order by source, duplicate_group, record_id

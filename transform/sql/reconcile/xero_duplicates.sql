-- Active Xero contacts that look like one business: the same valid ABN, the same e-mail or the same
-- folded name. They go to the review queue with a reason, never to an automatic merge: Xero has no
-- merge in its API, so a person merges them in Xero (or archives one).
-- Archived contacts are left out: Xero keeps Name unique among active contacts only
-- (docs/api-facts.md#xero-contact-fields-and-limits), and an archived twin of an active contact is
-- history, not a duplicate anyone has to settle.
-- One row per contact in a group; a pair that shares ABN and e-mail is one group, named after the
-- strongest rule, with the other shared keys in `shared_keys`.
with active as (
    select contact_id, name, abn, email, folded_name
    from staging.xero_contacts
    where not is_archived
),

keyed as (
    select contact_id, 1 as rule_rank, 'abn' as duplicate_rule, abn as duplicate_key
    from active
    where abn is not null
    union all
    select contact_id, 2, 'email', email
    from active
    where email is not null
    union all
    select contact_id, 3, 'name', folded_name
    from active
    where nullif(folded_name, '') is not null
),

groups as (
    select rule_rank, duplicate_rule, duplicate_key, list(contact_id order by contact_id) as members
    from keyed
    group by rule_rank, duplicate_rule, duplicate_key
    having count(*) > 1
),

findings as (
    select
        members,
        arg_min(duplicate_rule, rule_rank) as duplicate_rule,
        arg_min(duplicate_key, rule_rank) as duplicate_key,
        list(duplicate_rule order by rule_rank) as shared_keys
    from groups
    group by members
),

membership as (
    select f.*, unnest(f.members) as contact_id
    from findings as f
),

named as (
    select m.*, a.name
    from membership as m
    inner join active as a on a.contact_id = m.contact_id
)

select
    n.contact_id,
    n.name,
    n.duplicate_rule || ':' || n.members[1] as duplicate_group,
    n.duplicate_rule,
    n.shared_keys,
    len(n.members) as group_size,
    list(o.contact_id order by o.contact_id) as other_contact_ids,
    'same '
    || case n.duplicate_rule
        when 'abn' then 'ABN ' || n.duplicate_key
        when 'email' then 'e-mail ' || n.duplicate_key
        else 'name'
    end
    || case
        when len(n.shared_keys) > 1 then ' (and ' || array_to_string(
            list_transform(n.shared_keys[2:], lambda key: case key when 'email' then 'e-mail' else key end), ', '
        ) || ')'
        else ''
    end
    || ' as active Xero contact' || case when len(n.members) > 2 then 's ' else ' ' end
    || string_agg(o.name || ' (' || o.contact_id || ')', ', ' order by o.contact_id) as reason
from named as n
inner join named as o on o.members = n.members and o.contact_id <> n.contact_id
group by n.contact_id, n.name, n.members, n.duplicate_rule, n.duplicate_key, n.shared_keys

-- Xero contacts that would become Capsule parties (create_in_capsule, reconcile/capsule_creates.sql) but
-- look like a party Capsule already has: the same valid ABN, e-mail or folded name as ANY party, deleted
-- and out-of-scope ones included. Creating them could make a second party for one business, so a person
-- decides (link the party by its Xero Contact ID field, or create it by hand). One row per contact held,
-- naming the look-alike found by the strongest rule (ABN, then e-mail, then name; the lowest party id).
-- Only with two-way sync and create_in_capsule customers or all.
-- Reads reconcile.capsule_create_candidates (built first). No parameters.
with look_alikes as (
    select u.contact_id, p.party_id, 1 as rule_rank, 'abn' as rule
    from reconcile.capsule_create_candidates as u
    inner join staging.capsule_parties as p on p.abn = u.abn
    union all
    select u.contact_id, p.party_id, 2, 'email'
    from reconcile.capsule_create_candidates as u
    inner join staging.capsule_parties as p on p.email = u.email
    union all
    select u.contact_id, p.party_id, 3, 'name'
    from reconcile.capsule_create_candidates as u
    inner join staging.capsule_parties as p on p.folded_name = u.folded_name
    where nullif(u.folded_name, '') is not null
),

strongest as (
    select
        contact_id,
        arg_min(party_id, (rule_rank, party_id)) as party_id,
        arg_min(rule, (rule_rank, party_id)) as rule,
        count(distinct party_id) as parties
    from look_alikes
    group by contact_id
)

select
    s.contact_id,
    s.party_id,
    s.rule,
    'Xero contact ' || coalesce('"' || u.name || '"', s.contact_id) || ' has the same '
    || case s.rule when 'abn' then 'ABN' when 'email' then 'e-mail' else 'name' end
    || ' as Capsule party ' || s.party_id || coalesce(' (' || p.display_name || ')', '')
    || case
        when p.is_deleted then ', deleted in Capsule'
        when not coalesce(sc.in_scope, false) then ', which does not sync'
        else ''
    end
    || case when s.parties > 1 then ' and ' || (s.parties - 1) || ' more' else '' end
    || ': not created in Capsule; link the party (its Xero Contact ID field) or create it by hand' as reason
from strongest as s
inner join reconcile.capsule_create_candidates as u on u.contact_id = s.contact_id
left join staging.capsule_parties as p on p.party_id = s.party_id
left join reconcile.sync_scope as sc on sc.party_id = s.party_id

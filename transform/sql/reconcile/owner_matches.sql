-- Which Xero user each Capsule owner is (docs/mapping.md#contact-groups-tags-and-owners: owner →
-- owner by e-mail). Xero contacts have no owner, so an owner travels as a contact group
-- ($owner_group_prefix ∥ user name, the same name reconcile.mapped_contacts puts in contact_groups)
-- and this table reports who could be mapped.
-- One row per Capsule user, plus one row (user_id null, outcome 'no owner') counting live parties
-- without an owner. Xero users no Capsule user points at (bookkeepers, shared mailboxes) never appear.
-- Parameters: $owner_groups (true), $owner_group_prefix ('Owner: ').
with users as (
    select id as user_id, cx_blank(name) as user_name, party__id as own_party_id
    from raw.capsule_users
),

own_party_emails as (
    -- Capsule users have no e-mail of their own (docs/api-facts.md#capsule-custom-fields-and-tags): it
    -- is on the user's own person party, so the owner's address is that party's first plausible one, in
    -- list order.
    select
        p.id as party_id,
        arg_min(cx_email(e.address), e._dlt_list_idx) filter (where cx_email(e.address) is not null) as email
    from raw.capsule_parties as p
    inner join raw.capsule_parties__email_addresses as e on e._dlt_parent_id = p._dlt_id
    where p.id in (select own_party_id from users)
    group by p.id
),

xero_users as (
    -- Xero user e-mails are compared case-insensitively (CASES.md owner_email_case_differs); should two
    -- Xero users share an address, the smallest UserID is taken so the result is stable.
    select cx_email(email_address) as email, min(user_id) as xero_user_id
    from raw.xero_users
    where cx_email(email_address) is not null
    group by cx_email(email_address)
),

live_parties as (
    select p.id as party_id, p.owner__id as owner_id
    from raw.capsule_parties as p
    where not exists (select 1 from raw.capsule_deleted_parties as d where d.id = p.id)
),

owned as (
    select owner_id, count(*) as parties_owned
    from live_parties
    group by owner_id
)

select
    u.user_id,
    u.user_name,
    e.email as owner_email,
    x.xero_user_id,
    coalesce(o.parties_owned, 0) as parties_owned,
    case
        when e.email is null then 'no e-mail on the user''s party'
        when x.xero_user_id is null then 'owner not in Xero'
        else 'matched'
    end as outcome,
    case
        when $owner_groups and u.user_name is not null then $owner_group_prefix || u.user_name
    end as group_name
from users as u
left join own_party_emails as e on e.party_id = u.own_party_id
left join xero_users as x on x.email = e.email
left join owned as o on o.owner_id = u.user_id

union all

select
    null,
    null,
    null,
    null,
    count(*),
    'no owner',
    null
from live_parties
where owner_id is null

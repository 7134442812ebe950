-- What the plan would do for each row of reconcile.contact_targets before the preflight
-- (preflight_problems.sql) settles what Xero would refuse; contact_operations.sql is the result.
-- A field is sent when the diff decided "write" (or, for a new contact, when it has a value); its
-- column then holds the value to send (null clears it), otherwise null. A field decided "pull" goes to
-- Capsule (reconcile/capsule_updates.sql): it is neither sent nor kept here, only named in the reason. contact_number is the number
-- the contact has or will have.
-- Ordered aggregates (list ... order by) sort inside every group and cost more than the rest of the
-- plan at a million contacts; collect unordered, then sort each short list by its field rank.
with collected as (
    select
        party_id,
        list_sort(list({
            'field_rank': field_rank,
            'field': field,
            'decision': case when kept_as_xero then 'keep_as_xero' else decision end,
            'reason': reason
        }))
            as judged,
        max(desired_value) filter (where decision = 'write' and field = 'contact_number') as contact_number,
        max(desired_value) filter (where decision = 'write' and field = 'name') as name,
        max(desired_value) filter (where decision = 'write' and field = 'first_name') as first_name,
        max(desired_value) filter (where decision = 'write' and field = 'last_name') as last_name,
        max(desired_value) filter (where decision = 'write' and field = 'email_address') as email_address,
        max(desired_value) filter (where decision = 'write' and field = 'tax_number') as tax_number,
        max(desired_value) filter (where decision = 'write' and field = 'website') as website,
        max(desired_value) filter (where decision = 'write' and field = 'phone_default') as phone_default,
        max(desired_value) filter (where decision = 'write' and field = 'phone_mobile') as phone_mobile,
        max(desired_value) filter (where decision = 'write' and field = 'phone_fax') as phone_fax,
        max(desired_value) filter (where decision = 'write' and field = 'street_address') as street_address,
        max(desired_value) filter (where decision = 'write' and field = 'postal_address') as postal_address,
        max(desired_value) filter (where decision = 'write' and field = 'contact_persons') as contact_persons,
        max(desired_value) filter (where decision = 'write' and field = 'contact_groups') as contact_groups
    from reconcile.contact_diffs
    group by party_id
),

decisions as (
    select
        * exclude (judged),
        list_transform(list_filter(judged, lambda j: j.decision = 'write'), lambda j: j.field) as changed_fields,
        list_transform(list_filter(judged, lambda j: j.decision = 'review'), lambda j: j.field) as review_fields,
        list_transform(list_filter(judged, lambda j: j.decision = 'keep'), lambda j: j.field) as kept_fields,
        nullif(
            array_to_string(
                list_transform(
                    list_filter(judged, lambda j: j.decision = 'write'), lambda j: j.field || ': ' || j.reason
                ),
                '; '
            ),
            ''
        ) as write_reasons,
        nullif(
            array_to_string(
                list_transform(
                    list_filter(judged, lambda j: j.decision in ('keep', 'keep_as_xero')), lambda j: j.field || ': ' || j.reason
                ),
                '; '
            ),
            ''
        ) as keep_reasons,
        nullif(
            array_to_string(
                list_transform(
                    list_filter(judged, lambda j: j.decision = 'review'), lambda j: j.field || ': ' || j.reason
                ),
                '; '
            ),
            ''
        ) as review_reasons,
        nullif(
            array_to_string(
                list_transform(list_filter(judged, lambda j: j.decision = 'pull'), lambda j: j.field), ', '
            ),
            ''
        ) as pulled_names
    from collected
),

-- A new contact is sent with every field it has, Xero-owned ones included (Xero owns them once the
-- contact exists). Only new contacts read the desired fields: the rest come from the diff.
new_contacts as (
    select
        d.*,
        list_filter(
            [
                case when d.contact_number is not null then 'contact_number' end,
                case when d.name is not null then 'name' end,
                case when d.first_name is not null then 'first_name' end,
                case when d.last_name is not null then 'last_name' end,
                case when d.email_address is not null then 'email_address' end,
                case when d.tax_number is not null then 'tax_number' end,
                case when d.website is not null then 'website' end,
                case when d.phone_default is not null then 'phone_default' end,
                case when d.phone_mobile is not null then 'phone_mobile' end,
                case when d.phone_fax is not null then 'phone_fax' end,
                case when d.street_address is not null then 'street_address' end,
                case when d.postal_address is not null then 'postal_address' end,
                case when d.contact_persons is not null then 'contact_persons' end,
                case when d.contact_groups is not null then 'contact_groups' end
            ],
            lambda f: f is not null
        ) as changed_fields
    from reconcile.contact_targets as t
    inner join reconcile.desired_contacts as d on d.party_id = t.party_id
    where t.target_state = 'create'
),

drafted as (
    select
        t.party_id,
        t.contact_id,
        t.is_tombstone,
        t.target_state,
        t.state_reason,
        coalesce(n.changed_fields, x.changed_fields, []::varchar[]) as changed_fields,
        coalesce(x.review_fields, []::varchar[]) as review_fields,
        coalesce(x.kept_fields, []::varchar[]) as kept_fields,
        x.write_reasons,
        x.keep_reasons,
        x.review_reasons,
        x.pulled_names,
        case
            when t.contact_id is null then d.contact_number
            else coalesce(x.contact_number, c.contact_number)
        end as contact_number,
        coalesce(n.name, x.name) as name,
        coalesce(n.first_name, x.first_name) as first_name,
        coalesce(n.last_name, x.last_name) as last_name,
        coalesce(n.email_address, x.email_address) as email_address,
        coalesce(n.tax_number, x.tax_number) as tax_number,
        coalesce(n.website, x.website) as website,
        coalesce(n.phone_default, x.phone_default) as phone_default,
        coalesce(n.phone_mobile, x.phone_mobile) as phone_mobile,
        coalesce(n.phone_fax, x.phone_fax) as phone_fax,
        coalesce(n.street_address, x.street_address) as street_address,
        coalesce(n.postal_address, x.postal_address) as postal_address,
        coalesce(n.contact_persons, x.contact_persons) as contact_persons,
        coalesce(n.contact_groups, x.contact_groups) as contact_groups,
        c.name as current_name,
        d.people_total,
        c.balance_outstanding
    from reconcile.contact_targets as t
    left join decisions as x on x.party_id = t.party_id
    left join new_contacts as n on n.party_id = t.party_id
    left join reconcile.desired_contacts as d on d.party_id = t.party_id and not t.is_tombstone
    left join reconcile.current_contacts as c on c.contact_id = t.contact_id
),

operations as (
    select
        *,
        case
            when target_state in ('review', 'hold', 'archive', 'create') then target_state
            when target_state in ('archived', 'claimed') then 'noop'
            when len(review_fields) > 0 then 'review'
            when target_state = 'restore' then 'restore'
            when len(changed_fields) > 0 then 'update'
            else 'noop'
        end as operation
    from drafted
)

select
    operation,
    party_id,
    contact_id,
    contact_number,
    name,
    first_name,
    last_name,
    email_address,
    tax_number,
    website,
    phone_default,
    phone_mobile,
    phone_fax,
    street_address,
    postal_address,
    contact_persons,
    contact_groups,
    changed_fields,
    kept_fields,
    -- The name the contact carries once the plan is applied, and whether the plan makes it one more
    -- active contact's name (a create, a restore, a rename): what the preflight checks for uniqueness.
    case when operation = 'create' or list_contains(changed_fields, 'name') then name else current_name end
        as resulting_name,
    operation = 'create' or operation = 'restore' or list_contains(changed_fields, 'name') as claims_name,
    people_total,
    -- Nothing this tool reads predicts a refused archive: an outstanding balance does not block one
    -- (docs/api-facts.md#xero-archiving-and-restoring: Xero keeps the invoices with the archived contact), and the
    -- repeating invoices that reportedly do are not readable with the contacts scope. Xero's refusal
    -- lands in the error queue and waits for a person. The plan keeps the columns (its format).
    false as expect_refusal,
    cast(null as varchar) as refusal_reason,
    case operation
        when 'create' then 'creates a contact: ' || state_reason
        when 'update' then 'updates ' || write_reasons || coalesce('; kept: ' || keep_reasons, '')
            || coalesce('; goes to Capsule: ' || pulled_names, '')
        when 'restore' then 'restores ' || state_reason || coalesce('; ' || write_reasons, '')
            || coalesce('; kept: ' || keep_reasons, '')
        when 'review' then coalesce(review_reasons, state_reason)
        when 'archive' then state_reason
            || case
                when coalesce(balance_outstanding, 0) > 0
                    then '; it still has an outstanding balance of ' || balance_outstanding
                    || ', which Xero keeps with the archived contact'
                else ''
            end
        when 'noop' then
            case
                when is_tombstone then state_reason
                when keep_reasons is null and pulled_names is null then 'in sync'
                when keep_reasons is null then 'nothing to send'
                else 'nothing to send; kept: ' || keep_reasons
            end
            || coalesce('; goes to Capsule: ' || pulled_names, '')
        else state_reason
    end as reason
from operations

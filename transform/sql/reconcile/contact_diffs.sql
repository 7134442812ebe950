-- The three-way, per-field diff (docs/mapping.md#the-three-way-diff): for each Capsule party matched to
-- a Xero contact (active, or archived and about to be restored), one row per compared field whose
-- desired value (Capsule, D) differs from current Xero (C), with the value this tool last wrote (the
-- ledger, B) as the base. Every field goes through the same rules, in long format; a field equal on
-- both sides has no row. A new contact has nothing to compare: operation_drafts.sql sends its fields.
-- With $two_way (sync.direction: both) a field in $pulled_fields may also flow Xero → Capsule: decision
-- `pull` (reconcile/capsule_updates.sql plans the Capsule write). A Xero-owned one is pulled when Xero
-- changed it since the base (or, with no base, has a value); one owned by both ($both_owned_fields)
-- follows the side that changed it, and the conflict policy when both did. A person pulls only its
-- first and last names (its Xero Name is derived from them), an organisation only its name. A value
-- that would not read back as itself in Capsule is never pulled (pull_blocked_rule): it is kept, and
-- reconcile/pull_quarantine.sql reports it.
-- Parameters: $xero_owned_fields, $conflict_policy, $contact_number_prefix, $two_way, $pulled_fields,
-- $both_owned_fields.
with targets as (
    select party_id, contact_id, target_state, suffixed_name
    from reconcile.contact_targets
    where not is_tombstone and target_state in ('active', 'restore')
),

-- Most contacts are in sync: a 64-bit hash of each side's fields leaves them out before the wide
-- join and the unpivot (14 rows a contact), so the diff costs what the changes cost, not what the
-- whole book does. A pair whose hashes differ is compared field by field below; equal hashes of
-- different fields would need a 64-bit collision.
desired_hashes as (
    select
        party_id,
        hash(
            contact_number, name, first_name, last_name, email_address, tax_number, website, phone_default,
            phone_mobile, phone_fax, street_address, postal_address, contact_persons, contact_groups
        ) as fields_hash
    from reconcile.desired_contacts
),

current_hashes as (
    select
        contact_id,
        hash(
            contact_number, name, first_name, last_name, email_address, tax_number, website, phone_default,
            phone_mobile, phone_fax, street_address, postal_address, contact_persons, contact_groups
        ) as fields_hash
    from reconcile.current_contacts
),

differing_targets as (
    select t.*
    from targets as t
    inner join desired_hashes as dh on dh.party_id = t.party_id
    inner join current_hashes as ch on ch.contact_id = t.contact_id
    where dh.fields_hash <> ch.fields_hash
),

-- Group membership an interrupted run of this tool was setting (ledger.group_outbox: recorded before
-- the group calls, removed once the result is in the ledger). Xero's groups differ from the ledger
-- only on the way to target — each group gained is in target, none lost is — so they are this tool's
-- own half-done write: that state is the base, and whatever is still missing counts as changed in
-- Capsule and is sent. Without this, newest_wins would read the tool's own write as a newer Xero edit
-- (the contact's UpdatedDateUTC is the tool's create) and keep the half-set groups for good.
own_group_writes as (
    select
        t.contact_id,
        list_has_all(list_concat(b.groups, g.target_groups), c.groups)
        and len(list_intersect(list_filter(b.groups, lambda x: not list_contains(c.groups, x)), g.target_groups)) = 0
            as explained
    from differing_targets as t
    inner join (
        select contact_id, coalesce(from_json(target, '["VARCHAR"]'), []::varchar[]) as target_groups
        from ledger.group_outbox
    ) as g on g.contact_id = t.contact_id
    inner join (
        select contact_id, coalesce(from_json(contact_groups, '["VARCHAR"]'), []::varchar[]) as groups
        from reconcile.current_contacts
    ) as c on c.contact_id = t.contact_id
    inner join (
        select contact_id, coalesce(from_json(contact_groups, '["VARCHAR"]'), []::varchar[]) as groups
        from ledger.written_contacts
    ) as b on b.contact_id = t.contact_id
),

pairs as (
    select
        t.party_id,
        t.contact_id,
        t.target_state,
        d.party_type,
        b.contact_id is not null as has_base,
        d.capsule_updated_at,
        c.xero_updated_at,
        d.contact_number as d_contact_number,
        c.contact_number as c_contact_number,
        b.contact_number as b_contact_number,
        -- A name this tool suffixed to keep Xero's names unique (contact_operations.sql) counts as the
        -- Capsule name: otherwise every later run would try to take the name back and suffix it again.
        case when c.name = t.suffixed_name then c.name else d.name end as d_name,
        c.name as c_name,
        case
            when b.name = t.suffixed_name then case when c.name = t.suffixed_name then c.name else d.name end
            else b.name
        end as b_name,
        -- A field empty in Capsule only because its value is quarantined (mapped_contacts.sql:
        -- quarantined_fields, quarantined_people) is not sent: it reads as Xero's value, so it is
        -- neither "emptied in Capsule" nor a conflict, and Xero keeps what it has.
        d.first_name as d_first_name,
        c.first_name as c_first_name,
        b.first_name as b_first_name,
        d.last_name as d_last_name,
        c.last_name as c_last_name,
        b.last_name as b_last_name,
        cx_unless_quarantined(d.email_address, c.email_address, d.quarantined_fields, 'email_address') as d_email_address,
        c.email_address as c_email_address,
        b.email_address as b_email_address,
        cx_unless_quarantined(d.tax_number, c.tax_number, d.quarantined_fields, 'tax_number') as d_tax_number,
        c.tax_number as c_tax_number,
        b.tax_number as b_tax_number,
        d.website as d_website,
        c.website as c_website,
        b.website as b_website,
        cx_unless_quarantined(d.phone_default, c.phone_default, d.quarantined_fields, 'phone_default') as d_phone_default,
        c.phone_default as c_phone_default,
        b.phone_default as b_phone_default,
        cx_unless_quarantined(d.phone_mobile, c.phone_mobile, d.quarantined_fields, 'phone_mobile') as d_phone_mobile,
        c.phone_mobile as c_phone_mobile,
        b.phone_mobile as b_phone_mobile,
        cx_unless_quarantined(d.phone_fax, c.phone_fax, d.quarantined_fields, 'phone_fax') as d_phone_fax,
        c.phone_fax as c_phone_fax,
        b.phone_fax as b_phone_fax,
        d.street_address as d_street_address,
        c.street_address as c_street_address,
        b.street_address as b_street_address,
        d.postal_address as d_postal_address,
        c.postal_address as c_postal_address,
        b.postal_address as b_postal_address,
        case
            when len(d.quarantined_people) > 0 and d.contact_persons is not null
                then cx_persons_keeping_emails(d.contact_persons, c.contact_persons, d.quarantined_people)
            else d.contact_persons
        end as d_contact_persons,
        c.contact_persons as c_contact_persons,
        b.contact_persons as b_contact_persons,
        d.contact_groups as d_contact_groups,
        c.contact_groups as c_contact_groups,
        case when coalesce(o.explained, false) then c.contact_groups else b.contact_groups end as b_contact_groups
    from differing_targets as t
    inner join reconcile.desired_contacts as d on d.party_id = t.party_id
    inner join reconcile.current_contacts as c on c.contact_id = t.contact_id
    left join ledger.written_contacts as b on b.contact_id = t.contact_id
    left join own_group_writes as o on o.contact_id = t.contact_id
),

-- include nulls: DuckDB's multi-value unpivot otherwise drops a field when any one of D, C, B is
-- null, which would hide "cleared in Capsule" and "empty in Xero".
fields as (
    from pairs unpivot include nulls (
        (desired_value, current_value, base_value) for field in (
            (d_contact_number, c_contact_number, b_contact_number) as contact_number,
            (d_name, c_name, b_name) as name,
            (d_first_name, c_first_name, b_first_name) as first_name,
            (d_last_name, c_last_name, b_last_name) as last_name,
            (d_email_address, c_email_address, b_email_address) as email_address,
            (d_tax_number, c_tax_number, b_tax_number) as tax_number,
            (d_website, c_website, b_website) as website,
            (d_phone_default, c_phone_default, b_phone_default) as phone_default,
            (d_phone_mobile, c_phone_mobile, b_phone_mobile) as phone_mobile,
            (d_phone_fax, c_phone_fax, b_phone_fax) as phone_fax,
            (d_street_address, c_street_address, b_street_address) as street_address,
            (d_postal_address, c_postal_address, b_postal_address) as postal_address,
            (d_contact_persons, c_contact_persons, b_contact_persons) as contact_persons,
            (d_contact_groups, c_contact_groups, b_contact_groups) as contact_groups
        )
    )
),

differing as (
    select *
    from fields
    where
        case
            -- Xero's uniqueness ignores the case of a ContactNumber (its collation; the stand-in's
            -- unique_key), and matching does too: a case-only difference is no difference.
            when field = 'contact_number' then lower(desired_value) is distinct from lower(current_value)
            else desired_value is distinct from current_value
        end
),

classified as (
    select
        *,
        case
            when list_contains(cast($xero_owned_fields as varchar[]), field) then 'xero_owned'
            when field = 'contact_number' and current_value is null then 'adopt_number'
            when field = 'contact_number' and starts_with(lower(current_value), lower($contact_number_prefix))
                then 'our_old_number'
            -- Another system's number (MYOB-00001): replacing it would break that system's link, and
            -- ours is not needed to find the contact again, the ContactID cross-reference is.
            when field = 'contact_number' then 'foreign_number'
            when not has_base then 'no_base'
            when current_value is not distinct from base_value then 'capsule_changed'
            when desired_value is not distinct from base_value then 'xero_changed'
            else 'both_changed'
        end as change,
        $two_way
        and list_contains(cast($pulled_fields as varchar[]), field)
        and case field
            when 'name' then party_type is distinct from 'person'
            when 'first_name' then party_type = 'person'
            when 'last_name' then party_type = 'person'
            else true
        end as pullable,
        -- A Xero-owned field is pulled only when Xero moved it: an edit since the base, or a value
        -- the first time (an empty Xero field is no edit to copy over Capsule's).
        case when has_base then current_value is distinct from base_value else current_value is not null end
            as edited_in_xero
    from differing
),

owned as (
    select
        *,
        pullable and list_contains(cast($both_owned_fields as varchar[]), field) as shared,
        -- An empty Xero field on a contact this tool never wrote is no edit: Capsule's value fills it.
        pullable and list_contains(cast($both_owned_fields as varchar[]), field)
        and change = 'no_base' and current_value is null as shared_blank
    from classified
),

settled as (
    select
        *,
        change in ('no_base', 'xero_changed', 'both_changed')
        and not (shared and change = 'xero_changed')
        and not shared_blank as settled_by_policy,
        case
            when change in ('adopt_number', 'our_old_number', 'capsule_changed') then 'capsule'
            when change in ('xero_owned', 'foreign_number') then 'xero'
            -- Owned by both and changed in Xero only: no conflict, Xero's edit goes to Capsule.
            when shared and change = 'xero_changed' then 'xero'
            when shared_blank then 'capsule'
            when $conflict_policy = 'capsule_wins' then 'capsule'
            when $conflict_policy = 'xero_wins' then 'xero'
            when $conflict_policy = 'manual' then 'person'
            -- newest_wins on a contact this tool never wrote (an adoption): a blank in Xero is no
            -- edit to respect, so Capsule's value fills it whatever the timestamps say.
            when change = 'no_base' and current_value is null then 'capsule'
            -- newest_wins, field changed only in Xero since this tool wrote it: Xero's edit is the
            -- newest change to this field, whatever else moved Capsule's record-level updatedAt (its
            -- own write-back of the ContactID does, seconds after every write).
            when change = 'xero_changed' then 'xero'
            -- newest_wins otherwise: a tie or a missing timestamp keeps Xero's value; nothing is
            -- overwritten without evidence that Capsule changed later.
            when capsule_updated_at > xero_updated_at then 'capsule'
            else 'xero'
        end as winner
    from owned
),

pulls as (
    select
        *,
        pullable and winner = 'xero' and (change <> 'xero_owned' or edited_in_xero) as pulled
    from settled
),

-- What Capsule would read back differently from what it was given (staging/capsule_parties.sql): that
-- value would come back as a change every run, so it is kept and quarantined, never pulled.
blocked as (
    select
        *,
        case
            when not pulled then null
            when field = 'tax_number' and current_value is not null and cx_abn(current_value) is null
                then 'abn_checksum'
            -- Capsule's side reads any +614 number as the mobile, whatever its type (CASES.md mapping).
            when field = 'phone_default' and current_value like '+614%' then 'phone_kind'
            -- A Mobile-typed Australian number that is not a mobile reads as the default phone.
            when field = 'phone_mobile' and current_value like '+61%' and current_value not like '+614%'
                then 'phone_kind'
        end as pull_blocked_rule
    from pulls
)

select
    party_id,
    contact_id,
    field,
    list_position(
        [
            'contact_number', 'name', 'first_name', 'last_name', 'email_address', 'tax_number', 'website',
            'phone_default', 'phone_mobile', 'phone_fax', 'street_address', 'postal_address',
            'contact_persons', 'contact_groups'
        ],
        field
    ) as field_rank,
    desired_value,
    current_value,
    base_value,
    has_base,
    change,
    case
        when winner = 'capsule' then 'write'
        when winner = 'person' then 'review'
        when pulled and pull_blocked_rule is null then 'pull'
        else 'keep'
    end as decision,
    -- A two-way field Xero owns, kept because Xero did not move it: the base of the next diff is Xero's
    -- value (nothing to pull until Xero changes it). Recording Capsule's value instead, as a one-way
    -- keep does, would read as an edit in Xero next run and pull Xero's value, an empty one included,
    -- over Capsule's (tests/reverse_etl/test_two_way.py).
    pullable and change = 'xero_owned' and not pulled as kept_as_xero,
    settled_by_policy,
    winner,
    capsule_updated_at,
    xero_updated_at,
    pull_blocked_rule,
    case pull_blocked_rule
        when 'abn_checksum' then 'Xero''s TaxNumber ' || current_value
            || ' is not a valid ABN (its checksum fails), so it is not copied to Capsule; correct it in Xero'
        when 'phone_kind' then
            case field
                when 'phone_default' then 'Xero''s DEFAULT phone ' || current_value
                    || ' is an Australian mobile, which Capsule''s mobile holds; move it to MOBILE in Xero'
                else 'Xero''s MOBILE phone ' || current_value
                    || ' is an Australian number that is not a mobile; move it to DEFAULT in Xero'
            end
    end as pull_blocked_detail,
    case
        when pulled and pull_blocked_rule is not null then 'not copied to Capsule (quarantined, '
            || pull_blocked_rule || '): Xero keeps its value'
        when pulled and change = 'xero_owned' then 'Xero owns this field (rules file) and '
            || case when has_base then 'changed it since the last sync' else 'has a value' end
            || ': its value goes to Capsule'
        when pulled and change = 'xero_changed' and not settled_by_policy
            then 'changed in Xero only since the last sync: its value goes to Capsule'
        when shared_blank then 'Xero''s field is empty, so Capsule fills it'
        else
            case change
                when 'xero_owned' then 'Xero owns this field (rules file): keeps Xero''s value'
                when 'adopt_number' then 'sets our ContactNumber on the adopted contact'
                when 'our_old_number' then 'replaces our ContactNumber ' || current_value || ' of another Capsule id'
                when 'foreign_number' then 'keeps ' || current_value || ', the ContactNumber of another system; '
                    || 'the contact stays linked by its ContactID'
                when 'capsule_changed' then 'changed in Capsule since this tool last wrote it'
                else
                    case change
                        when 'xero_changed' then 'changed in Xero only since this tool last wrote it'
                        when 'both_changed' then 'changed on both sides since this tool last wrote it'
                        else 'differs, and this tool has no record of writing it'
                    end
                    || '; ' || $conflict_policy || ': '
                    || case
                        when $conflict_policy = 'manual' then 'a person decides'
                        when $conflict_policy <> 'newest_wins' then winner || ' wins'
                        when change = 'xero_changed' then 'Xero''s edit is the only change since, so it is the newest'
                        when change = 'no_base' and current_value is null then 'Xero''s field is empty, so Capsule fills it'
                        when capsule_updated_at is null or xero_updated_at is null
                            then 'a timestamp is missing, so Xero keeps its value'
                        else
                            case winner when 'capsule' then 'Capsule is newer' else 'Xero is as new or newer' end
                            || ' (Capsule ' || strftime(capsule_updated_at at time zone 'UTC', '%Y-%m-%d %H:%M:%S')
                            || ', Xero ' || strftime(xero_updated_at at time zone 'UTC', '%Y-%m-%d %H:%M:%S') || ' UTC)'
                    end
                    || case when pulled then '; Xero''s value goes to Capsule' else '' end
    end
    end as reason
from blocked

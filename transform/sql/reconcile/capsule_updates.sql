-- The Capsule writes of a two-way sync (sync.direction: both) other than creates: one `update` per party
-- with fields the diff decided to pull (reconcile/contact_diffs.sql, decision `pull`), and a `tag` /
-- `untag` per party whose Xero contact someone else archived / that is active again. The columns are
-- those of reconcile.capsule_operations (README.md, "Two-way contacts"), which unions these rows with
-- reconcile.capsule_creates.
-- Each pulled field names the Capsule row it was read from (row_ids): the row staging chose for it
-- (staging/capsule_parties.sql: the same filters, the first by list position), so the writer updates
-- that row by id instead of adding one beside it, and the value it writes is the one read back.
-- Parameters: $two_way, $archived_tag.
with judged as (
    select
        party_id,
        contact_id,
        list_sort(
            list({'field_rank': field_rank, 'field': field, 'before': desired_value, 'after': current_value})
                filter (where decision = 'pull')
        ) as pulled,
        coalesce(
            list({'field': field, 'value': desired_value}) filter (where decision = 'keep' and not kept_as_xero),
            []
        ) as kept,
        bool_or(decision = 'review') as in_review,
        string_agg(field || ': ' || reason, '; ' order by field_rank) filter (where decision = 'pull')
            as reasons
    from reconcile.contact_diffs
    where $two_way
    group by party_id, contact_id
    having count(*) filter (where decision = 'pull') > 0
),

parties as (
    select
        j.*,
        d.party_type,
        r._dlt_id as parent_id,
        w.contact_id is not null as has_base
    from judged as j
    inner join reconcile.desired_contacts as d on d.party_id = j.party_id
    left join raw.capsule_parties as r on r.id = j.party_id
    left join ledger.written_contacts as w on w.contact_id = j.contact_id
    -- With no ledger row the writer inserts `base`, and a field waiting for a person has no honest
    -- base value (Capsule's would read as "changed in Xero", Xero's as "changed in Capsule"): the
    -- contact's pulls wait until the review is settled.
    where not (j.in_review and w.contact_id is null)
),

email_ids as (
    select e._dlt_parent_id as parent_id, arg_min(e.id, e._dlt_list_idx) as email_address
    from raw.capsule_parties__email_addresses as e
    inner join parties as p on p.parent_id = e._dlt_parent_id
    where e.address is not null and cx_email(e.address) is not null
    group by e._dlt_parent_id
),

phone_rows as (
    select
        ph._dlt_parent_id as parent_id,
        ph._dlt_list_idx as idx,
        ph.id,
        lower(trim(ph.type)) as phone_type,
        cx_phone_e164(ph.number) as e164
    from raw.capsule_parties__phone_numbers as ph
    inner join parties as p on p.parent_id = ph._dlt_parent_id
    where ph.number is not null
),

phone_ids as (
    -- staging/capsule_parties.sql, phones: the same filters, so the id is of the row the field came from.
    select
        parent_id,
        arg_min(id, idx) filter (
            where e164 is not null and phone_type is distinct from 'fax' and e164 not like '+614%'
            and not (phone_type is not distinct from 'mobile' and e164 not like '+61%')
        ) as phone_default,
        arg_min(id, idx) filter (
            where e164 is not null and phone_type is distinct from 'fax'
            and (e164 like '+614%' or (phone_type is not distinct from 'mobile' and e164 not like '+61%'))
        ) as phone_mobile,
        arg_min(id, idx) filter (where e164 is not null and phone_type is not distinct from 'fax') as phone_fax
    from phone_rows
    group by parent_id
),

website_ids as (
    select ws._dlt_parent_id as parent_id, arg_min(ws.id, ws._dlt_list_idx) as website
    from raw.capsule_parties__websites as ws
    inner join parties as p on p.parent_id = ws._dlt_parent_id
    where ws.service = 'URL' and cx_website_domain(coalesce(ws.url, ws.address)) is not null
    group by ws._dlt_parent_id
),

address_ids as (
    select
        a._dlt_parent_id as parent_id,
        arg_min(a.id, a._dlt_list_idx) filter (where a.type is null or lower(a.type) in ('office', 'home'))
            as street_address,
        arg_min(a.id, a._dlt_list_idx) filter (where lower(a.type) in ('postal', 'billing')) as postal_address
    from raw.capsule_parties__addresses as a
    inner join parties as p on p.parent_id = a._dlt_parent_id
    where coalesce(cx_blank(a.street), cx_blank(a.city), cx_blank(a.state), cx_blank(a.zip), cx_blank(a.country))
        is not null
    group by a._dlt_parent_id
),

row_ids as (
    select
        p.party_id,
        map {
            'email_address': e.email_address,
            'website': ws.website,
            'phone_default': ph.phone_default,
            'phone_mobile': ph.phone_mobile,
            'phone_fax': ph.phone_fax,
            'street_address': a.street_address,
            'postal_address': a.postal_address
        } as ids
    from parties as p
    left join email_ids as e on e.parent_id = p.parent_id
    left join phone_ids as ph on ph.parent_id = p.parent_id
    left join website_ids as ws on ws.parent_id = p.parent_id
    left join address_ids as a on a.parent_id = p.parent_id
),

updates as (
    select
        'update' as operation,
        p.party_id,
        p.contact_id,
        p.party_type,
        list_transform(p.pulled, lambda f: f.field) as changed_fields,
        cast(to_json(map_from_entries(list_transform(p.pulled, lambda f: (f.field, f.before)))) as varchar)
            as before,
        cast(to_json(map_from_entries(list_transform(p.pulled, lambda f: (f.field, f.after)))) as varchar)
            as after,
        -- Name, first/last name and the ABN are scalars of the party (the ABN a custom field): no row.
        cast(
            to_json(map_from_entries(list_transform(p.pulled, lambda f: (f.field, r.ids[f.field])))) as varchar
        ) as row_ids,
        cast(null as varchar) as tag_name,
        cast(null as bigint) as tag_id,
        -- The ledger row to insert when this tool never wrote the contact (ledger.written_contacts,
        -- reverse_etl/ledger/sql/written_contacts.sql): Xero's values, except a field Xero keeps on
        -- purpose, which holds Capsule's (so the next run reads it as changed in Xero, as now).
        case
            when not p.has_base then cast(
                to_json(
                    map_from_entries(
                        list_transform(
                            [
                                'contact_number', 'name', 'first_name', 'last_name', 'email_address',
                                'tax_number', 'website', 'phone_default', 'phone_mobile', 'phone_fax',
                                'street_address', 'postal_address', 'contact_persons', 'contact_groups'
                            ],
                            lambda f: (
                                f,
                                case
                                    when list_contains(list_transform(p.kept, lambda k: k.field), f)
                                        then list_filter(p.kept, lambda k: k.field = f)[1].value
                                    else
                                        case f
                                            when 'contact_number' then c.contact_number
                                            when 'name' then c.name
                                            when 'first_name' then c.first_name
                                            when 'last_name' then c.last_name
                                            when 'email_address' then c.email_address
                                            when 'tax_number' then c.tax_number
                                            when 'website' then c.website
                                            when 'phone_default' then c.phone_default
                                            when 'phone_mobile' then c.phone_mobile
                                            when 'phone_fax' then c.phone_fax
                                            when 'street_address' then c.street_address
                                            when 'postal_address' then c.postal_address
                                            when 'contact_persons' then c.contact_persons
                                            when 'contact_groups' then c.contact_groups
                                        end
                                end
                            )
                        )
                    )
                ) as varchar
            )
        end as base,
        'copies from Xero ' || p.reasons as reason
    from parties as p
    inner join reconcile.current_contacts as c on c.contact_id = p.contact_id
    left join row_ids as r on r.party_id = p.party_id
),

-- Synced parties whose Xero contact someone else archived (contact_targets: `hold`), or that is active.
linked as (
    select t.party_id, t.contact_id, t.target_state, d.party_type, r._dlt_id as parent_id
    from reconcile.contact_targets as t
    inner join reconcile.desired_contacts as d on d.party_id = t.party_id
    inner join reconcile.current_contacts as c on c.contact_id = t.contact_id
    left join raw.capsule_parties as r on r.id = t.party_id
    where
        $two_way
        and not t.is_tombstone
        and (t.target_state = 'hold' or (t.target_state = 'active' and c.contact_status = 'ACTIVE'))
),

archived_tags as (
    -- Tags compare as staging cleans them (cx_text), without regard to case.
    select tg._dlt_parent_id as parent_id, arg_min(tg.id, tg._dlt_list_idx) as tag_id,
        arg_min(cx_text(tg.name), tg._dlt_list_idx) as tag_name
    from raw.capsule_parties__tags as tg
    inner join linked as l on l.parent_id = tg._dlt_parent_id
    where lower(cx_text(tg.name)) = lower(cx_text($archived_tag))
    group by tg._dlt_parent_id
),

tag_changes as (
    select
        case when l.target_state = 'hold' then 'tag' else 'untag' end as operation,
        l.party_id,
        l.contact_id,
        l.party_type,
        ['tags'] as changed_fields,
        '{}' as before,
        '{}' as after,
        '{}' as row_ids,
        case when l.target_state = 'hold' then cx_text($archived_tag) else g.tag_name end as tag_name,
        case when l.target_state = 'hold' then null else g.tag_id end as tag_id,
        cast(null as varchar) as base,
        case
            when l.target_state = 'hold'
                then 'its Xero contact was archived in Xero: tags the party ' || cx_text($archived_tag)
            else 'its Xero contact is active again: removes the tag ' || g.tag_name
        end as reason
    from linked as l
    left join archived_tags as g on g.parent_id = l.parent_id
    where (l.target_state = 'hold') = (g.tag_id is null)
)

select * from updates
union all by name
select * from tag_changes

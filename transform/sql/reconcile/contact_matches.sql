-- Which Xero contact each syncable Capsule party is
-- (docs/mapping.md#matching-which-xero-contact-a-party-is). Rules in order: stored cross-reference,
-- ContactNumber, ABN = TaxNumber, e-mail, e-mail domain (organisations, never free mail), folded name.
-- A cross-reference, ContactNumber or ledger row naming a contact merged away in Xero follows the merge
-- to the surviving contact (rule `merged`).
-- The first rule with a candidate wins; several candidates, an ABN conflict, an archived look-alike, a
-- contact claimed twice or a confidence under $min_confidence go to review, never to an automatic
-- write.
-- A contact numbered after another Capsule party (staging: numbered_party_id) is never a candidate of
-- the fuzzy rules.
-- Parameters: $contact_number_prefix ('CAP-'), $min_confidence (0.6), $people_as_contacts (false).
-- Only parties in reconcile.sync_scope take part: a party the rules keep out never claims a contact.
-- Reads ledger.written_contacts (which contact this tool wrote for a party) for merges only.
with recursive parties as (
    -- People with an organisation travel as its ContactPersons, not as contacts of their own.
    select p.*
    from staging.capsule_parties as p
    inner join reconcile.sync_scope as s on s.party_id = p.party_id and s.in_scope
    where not p.is_deleted and (p.party_type = 'organisation' or p.organisation_id is null or $people_as_contacts)
),

contacts as (
    select * from staging.xero_contacts
),

-- The fuzzy rules (ABN, e-mail, domain, name) only look at contacts no other party owns: a contact
-- numbered prefix ∥ id is that Capsule party's, even when the party is gone or out of scope. After an
-- apply stopped part way with people as contacts, a person's new contact shares its organisation's
-- e-mail domain (and often its ABN); taking it would send the organisation to review and strand the
-- person. A cross-reference still counts when that party no longer syncs (see candidates).
unowned_contacts as (
    select * from contacts where numbered_party_id is null
),

-- A contact merged into another in Xero's screens is archived and names the survivor
-- (MergedToContactID, docs/api-facts.md#xero-archiving-and-restoring); the survivor may have been
-- merged again. Followed at most 5 steps and never round a loop; a chain that ends in a contact that is
-- archived without a merge, is missing from the extract or is longer leads nowhere, and the party
-- keeps its archived contact (held and reported, as any contact archived by someone else).
merge_steps (contact_id, survivor_id, depth, path) as (
    select contact_id, lower(merged_to_contact_id), 1, [contact_id]
    from contacts
    where is_archived and merged_to_contact_id is not null
    union all
    select s.contact_id, lower(c.merged_to_contact_id), s.depth + 1, list_append(s.path, s.survivor_id)
    from merge_steps as s
    inner join contacts as c on c.contact_id = s.survivor_id
    where
        c.is_archived and c.merged_to_contact_id is not null
        and s.depth < 5 and not list_contains(s.path, s.survivor_id)
),

survivors as (
    select s.contact_id, s.survivor_id
    from merge_steps as s
    inner join contacts as c on c.contact_id = s.survivor_id and not c.is_archived
),

cross_references as (
    -- A cross-reference to a contact numbered after another party counts only when that party is no
    -- longer a syncing party (merged away, deleted, out of scope): then the contact is renumbered.
    select p.party_id, c.contact_id, 1 as rule_rank, 'cross_reference' as match_rule
    from parties as p
    inner join contacts as c on c.contact_id = lower(p.xero_contact_id)
    where
        c.numbered_party_id is null
        or c.numbered_party_id = p.party_id
        or not exists (select 1 from parties as owner where owner.party_id = c.numbered_party_id)
    union all
    select p.party_id, c.contact_id, 2, 'contact_number'
    from parties as p
    inner join contacts as c on lower(c.contact_number) = lower($contact_number_prefix || cast(p.party_id as varchar))
    union all
    -- What this tool wrote for the party: an adopted contact keeps its own ContactNumber, and its
    -- ContactID may not have reached Capsule yet. Only a merged-away one counts (the ledger keeps a row
    -- per contact ever written, so an active one may be a contact the party no longer is).
    select w.party_id, w.contact_id, 3, 'ledger'
    from ledger.written_contacts as w
    inner join parties as p on p.party_id = w.party_id
    where w.contact_id in (select contact_id from survivors)
),

candidates as (
    select
        r.party_id,
        coalesce(s.survivor_id, r.contact_id) as contact_id,
        r.rule_rank,
        case when s.survivor_id is not null then 'merged' else r.match_rule end as match_rule,
        1.0 as confidence
    from cross_references as r
    left join survivors as s on s.contact_id = r.contact_id
    union all
    select p.party_id, c.contact_id, 4, 'abn', 0.95
    from parties as p
    inner join unowned_contacts as c on c.abn = p.abn and not c.is_archived
    union all
    select p.party_id, c.contact_id, 5, 'email', 0.9
    from parties as p
    inner join unowned_contacts as c on c.email = p.email and not c.is_archived
    union all
    select p.party_id, c.contact_id, 6, 'email_domain', 0.75
    from parties as p
    inner join unowned_contacts as c on c.company_domain = p.company_domain and not c.is_archived
    where p.party_type = 'organisation'
    union all
    -- Archived look-alikes count here (Xero refuses a duplicate name only among active contacts,
    -- but adopting an archived contact is a person's call): they end in review below.
    select p.party_id, c.contact_id, 7, 'name', 0.6
    from parties as p
    inner join unowned_contacts as c on c.folded_name = p.folded_name
),

best_rank as (
    select party_id, min(rule_rank) as rule_rank from candidates group by party_id
),

winners as (
    select
        c.party_id,
        -- A contact found both directly and through a merge (the survivor already carries our
        -- ContactNumber) is named by the direct rule.
        arg_min(c.match_rule, c.match_rule = 'merged') as match_rule,
        any_value(c.confidence) as confidence,
        count(distinct c.contact_id) as candidate_count,
        min(c.contact_id) as contact_id
    from candidates as c
    inner join best_rank as b on b.party_id = c.party_id and b.rule_rank = c.rule_rank
    group by c.party_id
),

-- Whose a contact is beyond doubt: a syncing party's stored cross-reference or ContactNumber names it,
-- or it is numbered after a syncing party. A merge into such a contact is a person's call (two Capsule
-- parties are one business now), and the owner keeps its contact.
owners as (
    select contact_id, min(party_id) as party_id
    from (
        select party_id, contact_id from winners where match_rule in ('cross_reference', 'contact_number')
        union all
        select c.numbered_party_id, c.contact_id
        from contacts as c
        inner join parties as p on p.party_id = c.numbered_party_id
    )
    group by contact_id
),

weighed as (
    select
        w.*,
        x.is_archived,
        p.abn is not null and x.abn is not null and p.abn <> x.abn as abn_conflict,
        case when w.match_rule = 'merged' and o.party_id <> w.party_id then o.party_id end as survivor_owner
    from winners as w
    inner join parties as p on p.party_id = w.party_id
    inner join contacts as x on x.contact_id = w.contact_id
    left join owners as o on o.contact_id = w.contact_id
),

judged as (
    select
        *,
        count(*) filter (where survivor_owner is null) over (partition by contact_id) as claimed_by
    from weighed
),

capsule_duplicates as (
    select party_id, min(other_id) as duplicate_of
    from (
        select a.party_id, b.party_id as other_id
        from parties as a
        inner join parties as b on b.abn = a.abn and b.party_id <> a.party_id
    ) as pairs
    group by party_id
)

select
    p.party_id,
    p.party_type,
    p.display_name,
    case when j.candidate_count = 1 and j.review_reason is null then j.contact_id end as contact_id,
    j.contact_id as candidate_contact_id,
    j.match_rule,
    j.confidence,
    coalesce(j.candidate_count, 0) as candidate_count,
    p.xero_contact_id is not null and not exists (
        select 1 from contacts as c where c.contact_id = lower(p.xero_contact_id)
    ) as stale_cross_reference,
    case
        when d.duplicate_of is not null or j.review_reason is not null then 'review'
        when j.contact_id is not null then 'matched'
        else 'new'
    end as outcome,
    coalesce(
        case when d.duplicate_of is not null then 'same ABN as Capsule party ' || d.duplicate_of end,
        j.review_reason
    ) as review_reason
from parties as p
left join (
    select
        *,
        case
            when candidate_count > 1 then candidate_count || ' Xero contacts fit the ' || match_rule || ' rule'
            when survivor_owner is not null
                then 'its Xero contact was merged into ' || contact_id || ', which is Capsule party '
                || survivor_owner || '''s contact: a person decides which party keeps it'
            when match_rule = 'name' and abn_conflict then 'same name as a Xero contact with another ABN'
            when is_archived and match_rule not in ('cross_reference', 'contact_number')
                then 'looks like an archived Xero contact (' || match_rule || ')'
            when claimed_by > 1 then 'the Xero contact fits ' || claimed_by || ' Capsule parties'
            when confidence < $min_confidence then 'confidence ' || confidence || ' under the threshold'
        end as review_reason
    from judged
) as j on j.party_id = p.party_id
left join capsule_duplicates as d on d.party_id = p.party_id

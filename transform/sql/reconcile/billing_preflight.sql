-- Every problem that would make Xero refuse (or silently alter) a planned billing document, checked
-- against the organisation's own settings as extracted (docs/billing.md): one row per document and
-- problem, with the reason naming the record and the rules key. A document with any row goes to the
-- review queue, never to Xero. Xero drops a tracking option it does not know without an error
-- (docs/api-facts.md#xero-money-settings), and refuses an unknown or archived account, a tax type it
-- cannot use on the account, an unsubscribed currency (FACTS: validation messages); the stricter
-- choice here also refuses an account that is not a revenue account and a tax type Xero marks as not
-- applicable to revenue.
with docs as (
    select * from reconcile.billing_documents
),

accounts as (
    select code, name, status, class, type
    from raw.xero_accounts
),

tax_rates as (
    select tax_type, name, status, can_apply_to_revenue
    from raw.xero_tax_rates
),

categories as (
    select c.name, c.status, o.name as option_name, o.status as option_status
    from raw.xero_tracking_categories as c
    left join raw.xero_tracking_categories__options as o on o._dlt_parent_id = c._dlt_id
),

problems as (
    select
        d.reference,
        'value' as problem,
        'opportunity ' || d.opportunity_id || ' "' || d.description || '" has no value: give it a value in Capsule'
            as reason
    from docs as d
    where d.amount is null or d.amount <= 0
    union all
    select
        d.reference,
        'currency',
        'opportunity ' || d.opportunity_id || ' has no currency'
    from docs as d
    where d.amount > 0 and d.currency is null
    union all
    select
        d.reference,
        'currency',
        'currency ' || d.currency || ' of opportunity ' || d.opportunity_id
        || ' is not subscribed in Xero (Settings › Currencies): Xero refuses the document'
    from docs as d
    where d.currency is not null and d.currency not in (select upper(code) from raw.xero_currencies)
    union all
    select
        d.reference,
        'contact',
        case
            when d.party_deleted then 'party ' || d.party_id || ' (' || d.party_name || ') was deleted in Capsule'
            when not coalesce(d.in_scope, false)
                then 'party ' || d.party_id || ' (' || d.party_name || ') is not synced to Xero'
                || coalesce(' (' || d.scope_reason || ')', '') || ', so it has no Xero contact'
            when d.contact_operation = 'review'
                then 'party ' || d.party_id || ' (' || d.party_name || ')''s Xero contact waits for review'
                || ' (`capsule-xero report review_queue`)'
            when d.contact_operation = 'hold'
                then 'party ' || d.party_id || ' (' || d.party_name || ')''s Xero contact is archived in Xero'
            else 'party ' || d.party_id || ' (' || d.party_name || ') has no Xero contact and none is created in this plan'
        end
    from docs as d
    where d.contact_status = 'none'
    union all
    select
        d.reference,
        'account',
        case
            when a.code is null
                then 'account code ' || d.account_code || ' (billing.account_code) is not in Xero''s chart of accounts'
            when a.status <> 'ACTIVE'
                then 'account code ' || d.account_code || ' (billing.account_code) is ' || lower(a.status) || ' in Xero'
            else 'account code ' || d.account_code || ' (billing.account_code) is ' || coalesce(a.name, '')
                || ' (class ' || coalesce(a.class, 'unknown') || '), not a revenue account'
        end
    from docs as d
    left join accounts as a on a.code = d.account_code
    where d.account_code is not null and (a.code is null or a.status <> 'ACTIVE' or coalesce(a.class, '') <> 'REVENUE')
    union all
    select
        d.reference,
        'tax_type',
        case
            when t.tax_type is null then 'tax type ' || d.tax_type || ' (billing.tax_type) is not one of Xero''s tax rates'
            when t.status <> 'ACTIVE'
                then 'tax type ' || d.tax_type || ' (billing.tax_type, ' || t.name || ') is ' || lower(t.status) || ' in Xero'
            else 'tax type ' || d.tax_type || ' (billing.tax_type, ' || t.name || ') cannot be used on revenue'
        end
    from docs as d
    left join tax_rates as t on t.tax_type = d.tax_type
    where
        d.tax_type is not null
        and (t.tax_type is null or t.status <> 'ACTIVE' or not coalesce(t.can_apply_to_revenue, false))
    union all
    select
        d.reference,
        'item',
        'item ' || d.item_code || ' (billing.item_code) is not one of Xero''s items'
        || case when i.code is not null then ' that are sold' else '' end
    from docs as d
    left join raw.xero_items as i on i.code = d.item_code
    where d.item_code is not null and (i.code is null or not coalesce(i.is_sold, true))
    union all
    select
        d.reference,
        'tracking',
        'tracking category ' || d.tracking_rule_category || ' (billing.tracking.category) is not an active'
        || ' tracking category in Xero'
    from docs as d
    where
        d.tracking_rule_category is not null
        and not exists (
            select 1
            from categories as c
            where lower(c.name) = lower(d.tracking_rule_category) and c.status = 'ACTIVE'
        )
    union all
    select
        d.reference,
        'tracking',
        'tracking option ' || d.tracking_option || ' (from the tag ' || d.tracking_tag || ' of party '
        || d.party_id || ', billing.tracking.from_tag_prefix) is not an active option of '
        || d.tracking_category || ' in Xero'
    from docs as d
    where
        d.tracking_option is not null
        and exists (
            select 1
            from categories as c
            where lower(c.name) = lower(d.tracking_rule_category) and c.status = 'ACTIVE'
        )
        and not exists (
            select 1
            from categories as c
            where
                lower(c.name) = lower(d.tracking_rule_category) and c.status = 'ACTIVE'
                and lower(c.option_name) = lower(d.tracking_option) and c.option_status = 'ACTIVE'
        )
)

select
    p.reference,
    d.kind,
    d.opportunity_id,
    d.party_id,
    d.party_name,
    d.contact_id,
    p.problem,
    p.reason
from problems as p
inner join docs as d on d.reference = p.reference
order by d.opportunity_id, p.problem

-- Xero's money per linked Capsule party (issue 14, part 3; docs/money-in-capsule.md): one row per party
-- matched to a Xero contact (reconcile.contact_matches, outcome `matched`). A person with a contact of
-- their own (sync.people: contacts, or no organisation) is a party of their own and gets that contact's
-- figures; an organisation's figures are its own contact's, never its people's added in.
-- Reads the money through the temporary views money_invoices, money_credit_notes, money_payments and
-- money_organisation, which transform/stages.py makes over raw.xero_* (empty when money.read leaves a
-- table out, or Xero had none of it yet), so the model never fails on a table the extract did not make.
--
-- Amounts are DECIMAL throughout (no division anywhere): only documents in the organisation's base
-- currency count towards invoiced_12_months, outstanding and overdue. A Capsule field holds one number,
-- and converting a USD invoice at its own CurrencyRate would need a division and a rounding Xero's own
-- reports do differently (revalued at today's rate), so foreign-currency documents are left out of the
-- totals rather than converted to a figure Xero would not show. last_invoice and last_payment_date
-- take every currency (they are a number and a date, not a sum).
--
-- invoiced_12_months: sales invoices (ACCREC) AUTHORISED or PAID dated in the 12 months up to
--   $money_today (after the same day a year before, up to and including today), Total, minus sales
--   credit notes (ACCRECCREDIT) AUTHORISED or PAID dated in the same window.
-- outstanding: Σ AmountDue of AUTHORISED sales invoices (a PAID one owes nothing, a VOIDED or DELETED
--   one is not owed).
-- overdue: the same, for those whose DueDate is before $money_today.
-- last_invoice: "INV-0042 2026-11-30": the latest AUTHORISED or PAID sales invoice by Date (then number).
-- last_payment_date: the latest Date of an AUTHORISED customer payment (ACCRECPAYMENT; a DELETED payment
--   counts for nothing).
-- Parameters: $money_today (DATE, "today" in the organisation's time zone; transform/stages.py).
with base as (
    -- The extract reads the organisation with any money on; without it, the project's home currency.
    select coalesce(max(base_currency), 'AUD') as currency from money_organisation
),

linked as (
    select party_id, party_type, display_name, contact_id
    from reconcile.contact_matches
    where outcome = 'matched' and contact_id is not null
),

sales as (
    select
        lower(contact__contact_id) as contact_id,
        invoice_number,
        status,
        currency_code,
        "date",
        due_date,
        total,
        amount_due
    from money_invoices
    where type = 'ACCREC' and status in ('AUTHORISED', 'PAID') and contact__contact_id is not null
),

credits as (
    select lower(contact__contact_id) as contact_id, currency_code, "date", total
    from money_credit_notes
    where type = 'ACCRECCREDIT' and status in ('AUTHORISED', 'PAID') and contact__contact_id is not null
),

in_window as (
    select cast($money_today - interval 1 year as date) as after_day, cast($money_today as date) as today
),

invoiced as (
    select s.contact_id, sum(s.total) as invoiced
    from sales as s, base as b, in_window as w
    where s.currency_code = b.currency and s."date" > w.after_day and s."date" <= w.today
    group by s.contact_id
),

credited as (
    select c.contact_id, sum(c.total) as credited
    from credits as c, base as b, in_window as w
    where c.currency_code = b.currency and c."date" > w.after_day and c."date" <= w.today
    group by c.contact_id
),

owed as (
    select
        s.contact_id,
        sum(s.amount_due) as outstanding,
        coalesce(sum(s.amount_due) filter (where s.due_date < w.today), 0) as overdue
    from sales as s, base as b, in_window as w
    where s.status = 'AUTHORISED' and s.currency_code = b.currency
    group by s.contact_id
),

last_invoices as (
    select
        contact_id,
        arg_max(coalesce(invoice_number, '(no number)') || ' ' || strftime("date", '%Y-%m-%d'), ("date", invoice_number))
            as last_invoice
    from sales
    where "date" is not null
    group by contact_id
),

last_payments as (
    select lower(invoice__contact__contact_id) as contact_id, max("date") as last_payment_date
    from money_payments
    where status = 'AUTHORISED' and payment_type = 'ACCRECPAYMENT' and invoice__contact__contact_id is not null
    group by lower(invoice__contact__contact_id)
)

select
    l.party_id,
    l.party_type,
    l.display_name,
    l.contact_id,
    b.currency,
    cast(coalesce(i.invoiced, 0) - coalesce(c.credited, 0) as decimal(18, 2)) as invoiced_12_months,
    cast(coalesce(o.outstanding, 0) as decimal(18, 2)) as outstanding,
    cast(coalesce(o.overdue, 0) as decimal(18, 2)) as overdue,
    li.last_invoice,
    lp.last_payment_date
from linked as l
cross join base as b
left join invoiced as i on i.contact_id = l.contact_id
left join credited as c on c.contact_id = l.contact_id
left join owed as o on o.contact_id = l.contact_id
left join last_invoices as li on li.contact_id = l.contact_id
left join last_payments as lp on lp.contact_id = l.contact_id

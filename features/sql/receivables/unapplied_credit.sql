-- Grain: one row per credit note (amount < 0, kind 'credit note') issued, or payment on account
-- (kind 'payment on account') paid, before $as_of with credit left: what its customer can still
-- use of it (open_credit > 0). The rule is in features/receivables.py (unapplied_credit): the
-- latest open-items export before $as_of decides for the credit notes issued before its date;
-- a credit note no export has seen, and a payment on account, count in full from the customer's
-- oldest invoice open at $as_of, and for nothing before.
with latest as (
    select max(export_date) as export_date from staging.open_item_exports
    where export_date < $as_of
),
oldest_open as (
    -- each customer's oldest invoice open at as_of (open_invoices.sql's rule)
    select customer_id, min(issue_date) as issue_date
    from staging.invoice_settlements
    where amount > 0 and issue_date < $as_of
        and (settled_date is null or settled_date >= $as_of)
    group by customer_id
),
credit_notes as (
    select c.invoice_id, c.customer_id, c.currency, c.issue_date, c.amount,
        l.export_date is null or c.issue_date >= l.export_date as unseen,
        c.issue_date >= o.issue_date as since_oldest_open,
        e.invoice_id is not null as listed, e.open_amount
    from staging.invoices as c
    cross join latest as l
    left join oldest_open as o on o.customer_id = c.customer_id
    left join staging.open_item_exports as e
        on e.invoice_id = c.invoice_id and e.export_date = l.export_date
    where c.amount < 0 and c.issue_date < $as_of
),
final as (
    select invoice_id, customer_id, currency, issue_date, amount::double as amount,
        case
            when unseen and coalesce(since_oldest_open, false) then -amount
            when unseen then 0
            when listed then least(abs(coalesce(open_amount, amount)), -amount)
            else 0
        end::double as open_credit,
        'credit note' as kind
    from credit_notes
),
one_currency as (
    -- the currency of a customer's invoices, when they are all in one (a payment on account's)
    select customer_id, min(currency) as currency
    from staging.invoices
    where customer_id in (select customer_id from staging.payments_on_account)
    group by customer_id
    having count(distinct coalesce(currency, '')) = 1
),
on_account as (
    -- a payment the customer made to no invoice (staging.payments_on_account), as a credit
    select a.payment_id as invoice_id, a.customer_id, c.currency,
        a.payment_date as issue_date, -a.amount::double as amount,
        case when a.payment_date >= o.issue_date then a.amount end::double as open_credit,
        'payment on account' as kind
    from staging.payments_on_account as a
    left join oldest_open as o on o.customer_id = a.customer_id
    left join one_currency as c on c.customer_id = a.customer_id
    where a.payment_date < $as_of
)
select * from final where open_credit > 0
union all
select * from on_account where open_credit > 0
order by customer_id, issue_date, invoice_id

-- Grain: one row per invoice_id in staging.invoices. Rebuilt after every load.
-- settled_date: the date the running total of payments first reached the invoice amount (null
-- while open). Credit notes (amount <= 0) are applied when issued: settled on their issue date.
-- These are final outcomes: features may use them only where settled_date < as_of.
with

invoices as (
    select invoice_id, issue_date, amount from staging.invoices
),

payments as (
    select
        invoice_id,
        payment_date,
        amount,
        sum(amount) over (
            partition by invoice_id order by payment_date, payment_id
            rows between unbounded preceding and current row
        ) as paid_running
    from staging.payments
),

paid as (
    select
        p.invoice_id,
        sum(p.amount) as paid_amount,
        count(*) as n_payments,
        min(p.payment_date) as first_payment_date,
        max(p.payment_date) as last_payment_date,
        min(p.payment_date) filter (where p.paid_running >= i.amount) as paid_in_full_date
    from payments as p
    join invoices as i using (invoice_id)
    group by p.invoice_id
),

final as (
    select
        i.invoice_id,
        coalesce(p.paid_amount, 0) as paid_amount,
        coalesce(p.n_payments, 0) as n_payments,
        p.first_payment_date,
        p.last_payment_date,
        case when i.amount <= 0 then i.issue_date else p.paid_in_full_date end as settled_date
    from invoices as i
    left join paid as p using (invoice_id)
)

select * from final

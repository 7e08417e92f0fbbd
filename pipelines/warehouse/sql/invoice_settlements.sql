-- Grain: one row per invoice_id in staging.invoices. Updated after every load: rebuilt whole, or
-- for the invoices the load touched only (the two scope marks below then restrict to them).
-- Each invoice's own facts (customer, dates, amount, dispute opened and resolved) beside its
-- payments, stored with a customer's invoices together: the features read this table alone,
-- and group it by customer far faster when a customer's rows are adjacent (ordered by a hash of
-- the customer id: a cheaper sort than the text, and the only thing that matters is that the
-- rows are together).
-- settled_date: the date the running total of payments first reached the invoice amount (null
-- while open). Credit notes (amount <= 0) are applied when issued: settled on their issue date.
-- These are final outcomes: features may use them only where settled_date < as_of.
-- payments_to_settle: how many payments are dated on or before settled_date (paid in parts
-- when more than one; later over-payments do not count).
with

invoices as not materialized (
    select invoice_id, customer_id, issue_date, due_date, amount from staging.invoices /* scope */
),

paid as (
    select
        invoice_id,
        sum(amount) as paid_amount,
        count(*) as n_payments,
        min(payment_date) as first_payment_date,
        max(payment_date) as last_payment_date
    from staging.payments /* scope */
    group by invoice_id
),

-- Most invoices are paid in one payment: paid in full on its date if it covers the amount. The
-- running total by day (a sort of each invoice's payments) is needed only for the others.
instalments as (
    select
        p.invoice_id,
        p.payment_date,
        sum(p.amount) over by_day as paid_by_day,
        count(*) over by_day as payments_by_day
    from staging.payments as p
    semi join (select invoice_id from paid where n_payments > 1) as several using (invoice_id)
    window by_day as (
        partition by p.invoice_id order by p.payment_date
        range between unbounded preceding and current row
    )
),

paid_in_full as (
    -- the first day the payments add up to the amount, and how many payments there were by then
    select
        s.invoice_id,
        min(s.payment_date) as paid_in_full_date,
        arg_min(s.payments_by_day, s.payment_date) as payments_to_settle
    from instalments as s
    join invoices as i using (invoice_id)
    where s.paid_by_day >= i.amount
    group by s.invoice_id
),

final as (
    select
        i.invoice_id,
        i.customer_id,
        i.issue_date,
        i.due_date,
        i.amount,
        coalesce(p.paid_amount, 0) as paid_amount,
        coalesce(p.n_payments, 0) as n_payments,
        p.first_payment_date,
        p.last_payment_date,
        case
            when i.amount <= 0 then i.issue_date
            when p.n_payments = 1 and p.paid_amount >= i.amount then p.last_payment_date
            else f.paid_in_full_date
        end as settled_date,
        -- null while open (and for credit notes)
        case
            when i.amount <= 0 then null
            when p.n_payments = 1 and p.paid_amount >= i.amount then 1
            else f.payments_to_settle
        end as payments_to_settle,
        d.opened_date as dispute_opened_date,
        -- the dispute's end (null while open): disputed at D when opened before D and not
        -- resolved before D
        d.resolved_date as dispute_resolved_date
    from invoices as i
    left join paid as p using (invoice_id)
    left join paid_in_full as f using (invoice_id)
    left join staging.disputes as d using (invoice_id)
)

select * from final
order by hash(customer_id)

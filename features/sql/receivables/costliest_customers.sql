-- Grain: one row per customer whose late payments cost something up to $as_of, costliest first
-- (at most $n): the overdue balance integrated over time from $since (see features/receivables.py).
with

invoices as (
    select
        invoice_id,
        customer_id,
        amount::double as amount,
        greatest(due_date, $since::date) as counted_from
    from staging.invoices
    where amount > 0 and issue_date < $as_of and due_date < $as_of
),

payments as (
    select invoice_id, payment_date, amount::double as amount
    from staging.payments
    where payment_date < $as_of
),

per_invoice as (
    select
        i.invoice_id,
        i.customer_id,
        i.counted_from,
        any_value(i.amount) - coalesce(sum(p.amount), 0) as open_amount,
        coalesce(sum(p.amount * greatest(p.payment_date - i.counted_from, 0)), 0)
            as paid_amount_days
    from invoices as i
    left join payments as p using (invoice_id)
    group by i.invoice_id, i.customer_id, i.counted_from
),

cost as (
    select
        customer_id,
        paid_amount_days
            + greatest(open_amount, 0) * greatest($as_of::date - counted_from, 0)
            as amount_days_late,
        greatest(open_amount, 0) as overdue_amount
    from per_invoice
),

final as (
    select
        customer_id,
        c.name,
        c.segment,
        count(*) filter (where amount_days_late > 0) as late_invoices,
        sum(amount_days_late)::double as amount_days_late,
        sum(overdue_amount)::double as overdue_amount
    from cost
    left join staging.customers as c using (customer_id)
    group by customer_id, c.name, c.segment
)

select * from final
where amount_days_late > 0
order by amount_days_late desc, customer_id
limit $n

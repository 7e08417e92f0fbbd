-- Grain: one row per (customer_id, as_of): the customer's open receivables at as_of, from the
-- open_invoices snapshot (state at as_of, never the invoices' final outcome).
with

open_invoices as (
    select customer_id, as_of, due_date, amount, open_amount, is_disputed from open_invoices
),

final as (
    select
        customer_id,
        as_of,
        count(*) as customer_open_invoices,
        sum(open_amount) as customer_open_amount,
        count(*) filter (where due_date < as_of) as customer_overdue_invoices,
        coalesce(sum(open_amount) filter (where due_date < as_of), 0) as customer_overdue_amount,
        greatest(max(as_of - due_date), 0) as customer_max_days_past_due,
        count(*) filter (where is_disputed) as customer_disputed_open_invoices,
        -- fallen due in the 90 days before as_of (last day to pay on time before as_of) and
        -- still unpaid: compared with all those fallen due then (customer_history)
        count(*) filter (
            where due_date + $grace_days::integer < as_of
            and due_date + $grace_days::integer >= as_of - 90
        ) as unpaid_fallen_due_90d,
        -- before partial payments: compared with the customer's usual (customer_history)
        sum(amount) as open_invoices_amount
    from open_invoices
    group by customer_id, as_of
)

select * from final

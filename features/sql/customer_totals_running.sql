-- Grain: one row per (customer_id, as_of) present in open_invoices.
-- The customer's totals from facts dated before as_of, read from the running totals of
-- customer_events at the last event before as_of (ASOF join); 90/365-day windows are the
-- difference between the totals before as_of and before as_of - 90/365 days. The path for many
-- dates (training): the history is summed once for all dates. Same columns and values, to the
-- bit, as customer_totals_direct.
with

customer_dates as (
    select distinct customer_id, as_of, as_of - 90 as as_of_90d, as_of - 365 as as_of_365d
    from open_invoices
),

now as (
    select d.customer_id, d.as_of, e.* exclude (customer_id)
    from customer_dates as d
    asof left join customer_events as e
        on d.customer_id = e.customer_id and d.as_of > e.event_date
),

before_90d as (
    select d.customer_id, d.as_of, e.* exclude (customer_id)
    from customer_dates as d
    asof left join customer_events as e
        on d.customer_id = e.customer_id and d.as_of_90d > e.event_date
),

before_365d as (
    select d.customer_id, d.as_of, e.* exclude (customer_id)
    from customer_dates as d
    asof left join customer_events as e
        on d.customer_id = e.customer_id and d.as_of_365d > e.event_date
),

final as (
    select
        n.customer_id,
        n.as_of,
        -- settled before as_of
        coalesce(n.cum_settled_n, 0)::bigint as settled_n,
        coalesce(n.cum_late_n, 0)::bigint as late_n,
        coalesce(n.cum_settled_amount, 0)::decimal(38, 2) as settled_amount,
        coalesce(n.cum_days_late_sum, 0)::bigint as days_late_sum,
        coalesce(n.cum_days_late_sq_sum, 0)::bigint as days_late_sq_sum,
        coalesce(n.cum_amount_days_late_sum, 0)::decimal(38, 2) as amount_days_late_sum,
        coalesce(n.cum_partial_n, 0)::bigint as partial_n,
        n.max_days_late::bigint as max_days_late,
        n.median_days_late::double as median_days_late,
        coalesce(n.cum_settled_n - coalesce(y.cum_settled_n, 0), 0)::bigint as settled_n_365d,
        coalesce(n.cum_late_n - coalesce(y.cum_late_n, 0), 0)::bigint as late_n_365d,
        coalesce(n.cum_days_late_sum - coalesce(y.cum_days_late_sum, 0), 0)::bigint
            as days_late_sum_365d,
        coalesce(n.cum_settled_n - coalesce(q.cum_settled_n, 0), 0)::bigint as settled_n_90d,
        coalesce(n.cum_late_n - coalesce(q.cum_late_n, 0), 0)::bigint as late_n_90d,
        coalesce(n.cum_days_late_sum - coalesce(q.cum_days_late_sum, 0), 0)::bigint
            as days_late_sum_90d,
        coalesce(n.cum_on_time_n, 0)::bigint as on_time_n,
        coalesce(n.cum_days_early_sum, 0)::bigint as days_early_sum,
        coalesce(n.cum_month_end_n, 0)::bigint as month_end_n,
        -- fallen due before as_of, and paid late or not yet paid
        coalesce(n.cum_due_n, 0)::bigint as due_n,
        coalesce(n.cum_late_by_due_n, 0)::bigint as late_by_due_n,
        coalesce(n.cum_due_n - coalesce(y.cum_due_n, 0), 0)::bigint as due_n_365d,
        coalesce(n.cum_late_by_due_n - coalesce(y.cum_late_by_due_n, 0), 0)::bigint
            as late_by_due_n_365d,
        -- weighted by recency: 365 - (as_of - day fallen due), summed over the 365-day window as
        -- (365 - as_of) * count + sum of the day numbers
        coalesce(
            (365 - (n.as_of - date '1970-01-01')) * (n.cum_due_n - coalesce(y.cum_due_n, 0))
            + n.cum_due_day - coalesce(y.cum_due_day, 0),
            0
        )::bigint as due_weight_365d,
        coalesce(
            (365 - (n.as_of - date '1970-01-01'))
                * (n.cum_late_by_due_n - coalesce(y.cum_late_by_due_n, 0))
            + n.cum_late_by_due_day - coalesce(y.cum_late_by_due_day, 0),
            0
        )::bigint as late_by_due_weight_365d,
        coalesce(n.cum_due_n - coalesce(q.cum_due_n, 0), 0)::bigint as due_n_90d,
        coalesce(n.cum_late_by_due_n - coalesce(q.cum_late_by_due_n, 0), 0)::bigint
            as late_by_due_n_90d,
        -- issued before as_of
        coalesce(n.cum_issued_n, 0)::bigint as issued_n,
        coalesce(n.cum_issued_amount, 0)::decimal(38, 2) as issued_amount,
        n.median_invoice_amount::double as median_invoice_amount,
        coalesce(n.cum_issued_n - coalesce(y.cum_issued_n, 0), 0)::bigint as issued_n_365d,
        coalesce(n.cum_issued_amount - coalesce(y.cum_issued_amount, 0), 0)::decimal(38, 2)
            as issued_amount_365d,
        coalesce(n.cum_credit_notes_n - coalesce(y.cum_credit_notes_n, 0), 0)::bigint
            as credit_notes_n_365d,
        n.first_issue_date,
        -- disputes and payments before as_of
        coalesce(n.cum_disputes_n, 0)::bigint as disputes_n,
        n.last_payment_date,
        -- sum over t in [as_of - 364, as_of] of the open balance at t, as F(as_of) - F(as_of - 365)
        -- with F(x) = sum of delta * (x - f) over facts dated f < x
        coalesce(
            (n.as_of - date '1970-01-01') * n.cum_balance_delta - n.cum_balance_delta_day
            - coalesce(
                (n.as_of - 365 - date '1970-01-01') * y.cum_balance_delta - y.cum_balance_delta_day,
                0
            ),
            0
        )::decimal(38, 2) as open_balance_days_365d,
        -- the last ten settlements
        n.avg_days_late_last5::double as avg_days_late_last5,
        n.median_days_late_last10::double as median_days_late_last10,
        n.share_paid_late_last10::double as share_paid_late_last10
    from now as n
    left join before_365d as y using (customer_id, as_of)
    left join before_90d as q using (customer_id, as_of)
)

select * from final

-- Grain: one row per (customer_id, as_of) present in open_invoices.
-- The customer's payment behaviour from facts dated before as_of only: running totals of
-- customer_events taken at the last event before as_of (ASOF join), and 90/365-day windows as the
-- difference between the totals before as_of and before as_of - 90/365 days.
with

customer_dates as (
    select distinct
        customer_id,
        as_of,
        as_of - interval 90 day as as_of_90d,
        as_of - interval 365 day as as_of_365d
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

windows as (
    select
        n.customer_id,
        n.as_of,
        n.cum_settled_n as settled_n,
        n.cum_late_n as late_n,
        n.cum_settled_amount as settled_amount,
        n.cum_days_late_sum as days_late_sum,
        n.cum_days_late_sq_sum as days_late_sq_sum,
        n.cum_amount_days_late_sum as amount_days_late_sum,
        n.cum_partial_n as partial_n,
        n.cum_issued_n as issued_n,
        n.cum_issued_amount as issued_amount,
        n.cum_disputes_n as disputes_n,
        n.max_days_late,
        n.avg_days_late_last5,
        n.median_days_late_last10,
        n.share_paid_late_last10,
        n.first_issue_date,
        n.last_payment_date,
        n.cum_settled_n - coalesce(y.cum_settled_n, 0) as settled_n_365d,
        n.cum_late_n - coalesce(y.cum_late_n, 0) as late_n_365d,
        n.cum_days_late_sum - coalesce(y.cum_days_late_sum, 0) as days_late_sum_365d,
        n.cum_issued_n - coalesce(y.cum_issued_n, 0) as issued_n_365d,
        n.cum_issued_amount - coalesce(y.cum_issued_amount, 0) as issued_amount_365d,
        n.cum_credit_notes_n - coalesce(y.cum_credit_notes_n, 0) as credit_notes_n_365d,
        n.cum_settled_n - coalesce(q.cum_settled_n, 0) as settled_n_90d,
        n.cum_late_n - coalesce(q.cum_late_n, 0) as late_n_90d,
        n.cum_days_late_sum - coalesce(q.cum_days_late_sum, 0) as days_late_sum_90d
    from now as n
    left join before_365d as y using (customer_id, as_of)
    left join before_90d as q using (customer_id, as_of)
),

final as (
    select
        customer_id,
        as_of,
        coalesce(settled_n, 0) as settled_invoices,
        coalesce(settled_amount, 0) as settled_amount,
        late_n / nullif(settled_n, 0) as share_paid_late,
        days_late_sum / nullif(settled_n, 0) as avg_days_late,
        sqrt(greatest(
            days_late_sq_sum / nullif(settled_n, 0)
            - pow(days_late_sum / nullif(settled_n, 0), 2), 0
        )) as std_days_late,
        max_days_late,
        amount_days_late_sum / nullif(settled_amount, 0) as amount_weighted_days_late,
        coalesce(settled_n_365d, 0) as settled_invoices_365d,
        late_n_365d / nullif(settled_n_365d, 0) as share_paid_late_365d,
        days_late_sum_365d / nullif(settled_n_365d, 0) as avg_days_late_365d,
        coalesce(settled_n_90d, 0) as settled_invoices_90d,
        late_n_90d / nullif(settled_n_90d, 0) as share_paid_late_90d,
        days_late_sum_90d / nullif(settled_n_90d, 0) as avg_days_late_90d,
        days_late_sum_90d / nullif(settled_n_90d, 0)
            - days_late_sum / nullif(settled_n, 0) as trend_days_late_90d,
        avg_days_late_last5,
        median_days_late_last10,
        share_paid_late_last10,
        partial_n / nullif(settled_n, 0) as share_paid_in_parts,
        disputes_n / nullif(issued_n, 0) as dispute_rate,
        coalesce(issued_n_365d, 0) as invoices_issued_365d,
        coalesce(credit_notes_n_365d, 0) as credit_notes_365d,
        issued_amount / nullif(issued_n, 0) as avg_invoice_amount,
        issued_amount_365d / 12 as avg_monthly_billing_365d,
        as_of - first_issue_date as tenure_days,
        as_of - last_payment_date as days_since_last_payment
    from windows
)

select * from final

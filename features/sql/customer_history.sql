-- Grain: one row per (customer_id, as_of) present in open_invoices.
-- The customer's payment behaviour from facts dated before as_of only, from customer_totals
-- (built by customer_totals_direct for a few dates, customer_totals_running for many: the same
-- columns, to the bit).
with

totals as (
    select * from customer_totals
),

final as (
    select
        customer_id,
        as_of,
        settled_n as settled_invoices,
        settled_amount,
        late_n / nullif(settled_n, 0) as share_paid_late,
        days_late_sum / nullif(settled_n, 0) as avg_days_late,
        median_days_late,
        sqrt(greatest(
            days_late_sq_sum / nullif(settled_n, 0)
            - pow(days_late_sum / nullif(settled_n, 0), 2), 0
        )) as std_days_late,
        max_days_late,
        amount_days_late_sum / nullif(settled_amount, 0) as amount_weighted_days_late,
        settled_n_365d as settled_invoices_365d,
        late_n_365d / nullif(settled_n_365d, 0) as share_paid_late_365d,
        days_late_sum_365d / nullif(settled_n_365d, 0) as avg_days_late_365d,
        settled_n_90d as settled_invoices_90d,
        late_n_90d / nullif(settled_n_90d, 0) as share_paid_late_90d,
        days_late_sum_90d / nullif(settled_n_90d, 0) as avg_days_late_90d,
        days_late_sum_90d / nullif(settled_n_90d, 0)
            - days_late_sum / nullif(settled_n, 0) as trend_days_late_90d,
        avg_days_late_last5,
        median_days_late_last10,
        share_paid_late_last10,
        partial_n / nullif(settled_n, 0) as share_paid_in_parts,
        days_early_sum / nullif(on_time_n, 0) as avg_days_early_when_on_time,
        due_n as invoices_fallen_due,
        late_by_due_n / nullif(due_n, 0) as share_unpaid_at_due_date,
        late_by_due_n_365d / nullif(due_n_365d, 0) as share_unpaid_at_due_date_365d,
        late_by_due_weight_365d / nullif(due_weight_365d, 0) as recent_share_unpaid_at_due_date,
        month_end_n / nullif(settled_n, 0) as share_settled_on_month_end,
        due_n_90d as invoices_fallen_due_90d,
        late_by_due_n_90d / nullif(due_n_90d, 0) as share_unpaid_at_due_date_90d,
        disputes_n / nullif(issued_n, 0) as dispute_rate,
        issued_n_365d as invoices_issued_365d,
        credit_notes_n_365d as credit_notes_365d,
        issued_amount / nullif(issued_n, 0) as avg_invoice_amount,
        median_invoice_amount,
        issued_amount_365d / 12 as avg_monthly_billing_365d,
        -- average daily amount of open invoices over the 365 days up to as_of, or since the first
        -- invoice when the customer is newer (tenure_days >= 1: an open invoice was issued
        -- before as_of)
        open_balance_days_365d / least(365, as_of - first_issue_date) as usual_open_amount_365d,
        as_of - first_issue_date as tenure_days,
        as_of - last_payment_date as days_since_last_payment
    from totals
)

select * from final
